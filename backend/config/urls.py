from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api = [
    path("", include("backend.accounts.urls")),
    path("", include("backend.therapy.urls")),
    path("", include("backend.catalogue.urls")),
    path("", include("backend.recommendations.urls")),
    path("", include("backend.reports.urls")),
    path("", include("backend.common.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("", include("frontend.urls")),
]
