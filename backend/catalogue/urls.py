from rest_framework.routers import SimpleRouter

from backend.catalogue import views

router = SimpleRouter(trailing_slash=False)
# Registered before "tracks" so /tracks/imports is never read as a track id.
router.register("tracks/imports", views.ImportJobViewSet, basename="track-import-job")
router.register("tracks", views.TrackViewSet, basename="track")

urlpatterns = router.urls
