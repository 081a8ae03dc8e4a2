from django.apps import AppConfig


class TherapyConfig(AppConfig):
    name = "backend.therapy"
    label = "therapy"
