from django.urls import path

from backend.common.health import HealthView
from backend.common.metrics import MetricsView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("metrics", MetricsView.as_view(), name="metrics"),
]
