from __future__ import annotations

from rest_framework import serializers

from backend.catalogue.models import ImportJob, Track

FEATURES = [
    "valence",
    "energy",
    "danceability",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
    "loudness",
    "tempo",
    "mode",
    "key",
]


class TrackSerializer(serializers.ModelSerializer[Track]):
    """Everyone authenticated reads tracks; admins write them (features are range-checked by
    the model's validators, and the mood coordinates are always derived, never written)."""

    audio_file = serializers.FileField(
        write_only=True, required=False, allow_null=True, help_text="multipart upload (admins)"
    )
    has_audio = serializers.SerializerMethodField(help_text="GET /api/tracks/{id}/audio plays it")

    class Meta:
        model = Track
        fields = [
            "id",
            "external_id",
            "external_url",
            "title",
            "artist",
            "album",
            "genre",
            "subgenre",
            "duration_ms",
            "popularity",
            "release_year",
            "audio_file",
            "has_audio",
            *FEATURES,
            "mood_valence",
            "mood_arousal",
            "mood_region",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "mood_valence",
            "mood_arousal",
            "mood_region",
            "created_at",
            "updated_at",
        ]

    def get_has_audio(self, track: Track) -> bool:
        return bool(track.audio_file)


class ImportUploadSerializer(serializers.Serializer[None]):
    file = serializers.FileField(help_text="CSV or gzip-compressed CSV (Spotify-features layout)")


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "status",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "duplicate_rows",
            "rejected_count",
            "rejected",
            "error",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
