"""Admin for the catalogue: search, filter by genre / mood region, edit features by hand
(range-checked, mood recomputed), (de)activate. Tracks are never deleted: playlists and
feedback refer to them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.catalogue import services
from backend.catalogue.models import ImportJob, Track


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    # a link typed without a scheme is https:// (Django 6's default, chosen now)
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"},
    }
    list_display = (
        "title",
        "artist",
        "genre",
        "mood_region",
        "valence",
        "energy",
        "tempo",
        "is_active",
    )
    list_filter = ("is_active", "mood_region", "genre", "subgenre")
    search_fields = ("title", "artist", "album", "external_id")
    readonly_fields = ("mood_valence", "mood_arousal", "mood_region", "created_at", "updated_at")
    actions = ("deactivate", "activate")
    list_per_page = 50

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Track, form: Any, change: bool) -> None:
        # The form has set (and range-checked) the fields; the service recomputes the mood.
        services.update_track(track=obj)

    @admin.action(description="Deactivate selected tracks")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Track]) -> None:
        count = services.set_active(tracks=queryset, active=False)
        self.message_user(request, f"{count} tracks deactivated", messages.SUCCESS)

    @admin.action(description="Activate selected tracks")
    def activate(self, request: HttpRequest, queryset: QuerySet[Track]) -> None:
        count = services.set_active(tracks=queryset, active=True)
        self.message_user(request, f"{count} tracks activated", messages.SUCCESS)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "filename", "status", "processed_rows", "total_rows", "started_at")
    list_filter = ("status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
