from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "backend.common"
    label = "common"

    def ready(self) -> None:
        from django.urls import register_converter

        from backend.common.converters import IdConverter

        register_converter(IdConverter, "id")

        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from backend.common.faults import POINTS

        unknown = settings.FAULT_POINTS - POINTS
        if unknown:
            raise ImproperlyConfigured(f"FAULT_POINTS: unknown point(s) {sorted(unknown)}")
        if settings.FAULT_POINTS and settings.PRODUCTION:
            raise ImproperlyConfigured("FAULT_POINTS is for the fault tests, never production")
