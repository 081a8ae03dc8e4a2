from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "backend.recommendations"
    label = "recommendations"
