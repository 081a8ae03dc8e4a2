from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "backend.common"
    label = "common"

    def ready(self) -> None:
        from django.urls import register_converter

        from backend.common.converters import IdConverter

        register_converter(IdConverter, "id")
