from django.urls import path
from rest_framework.routers import SimpleRouter

from backend.therapy import live, views

router = SimpleRouter(trailing_slash=False)
router.register("sessions", views.TherapySessionViewSet, basename="session")
router.register("frames", views.FrameViewSet, basename="frame")
router.register("checkins", views.MoodCheckInViewSet, basename="checkin")

urlpatterns = [
    *router.urls,
    path("sessions/<id:pk>/events", live.SessionEventsView.as_view(), name="session-events"),
]
