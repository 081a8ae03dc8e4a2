"""The song catalogue: tracks with Spotify-style audio features, and CSV import jobs.

Spotify no longer serves audio features to new apps, so these rows are the source of truth
for features; admins may correct them by hand (ranges are validated). Each track also stores
its place on the valence-arousal plane and its mood region (backend.catalogue.mood_model),
recomputed whenever its features change, so the recommender and admin filters can use them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models

# Accepted ranges: Spotify's documented ranges, a little wider for loudness (the API returns
# up to +1.3 dB) and tempo (0 = not detected).
FEATURE_RANGES: dict[str, tuple[float, float]] = {
    "valence": (0.0, 1.0),
    "energy": (0.0, 1.0),
    "danceability": (0.0, 1.0),
    "acousticness": (0.0, 1.0),
    "instrumentalness": (0.0, 1.0),
    "speechiness": (0.0, 1.0),
    "liveness": (0.0, 1.0),
    "loudness": (-60.0, 5.0),
    "tempo": (0.0, 300.0),
}
KEY_RANGE = (-1, 11)
DURATION_RANGE_MS = (1_000, 3_600_000)


AUDIO_EXTENSIONS = ["mp3", "ogg", "oga", "opus", "m4a", "aac", "wav", "flac", "webm"]
AUDIO_MAX_BYTES = 40 * 1024 * 1024


def validate_audio_size(file: object) -> None:
    size = getattr(file, "size", 0) or 0
    if size > AUDIO_MAX_BYTES:
        raise ValidationError(f"audio files are limited to {AUDIO_MAX_BYTES // (1024 * 1024)} MB")


def _between(name: str) -> list[object]:
    low, high = FEATURE_RANGES[name]
    return [MinValueValidator(low), MaxValueValidator(high)]


class MoodRegion(models.TextChoices):
    HAPPY = "happy"
    SAD = "sad"
    ENERGETIC = "energetic"
    CALM = "calm"


class Track(models.Model):
    external_id = models.CharField(max_length=64, unique=True)  # e.g. the Spotify track id
    external_url = models.URLField(max_length=300, blank=True)
    title = models.CharField(max_length=500, blank=True)  # a few source rows have no name
    artist = models.CharField(max_length=500, blank=True)
    album = models.CharField(max_length=500, blank=True)
    genre = models.CharField(max_length=64, blank=True)
    subgenre = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(
        validators=[
            MinValueValidator(DURATION_RANGE_MS[0]),
            MaxValueValidator(DURATION_RANGE_MS[1]),
        ]
    )
    popularity = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    release_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # Optional local audio (for tracks not on a streaming service), streamed to signed-in
    # users by GET /api/tracks/{id}/audio; MEDIA_ROOT itself is never served publicly.
    audio_file = models.FileField(
        upload_to="tracks/",
        blank=True,
        max_length=255,
        validators=[FileExtensionValidator(AUDIO_EXTENSIONS), validate_audio_size],
    )

    valence = models.FloatField(validators=_between("valence"))
    energy = models.FloatField(validators=_between("energy"))
    danceability = models.FloatField(validators=_between("danceability"))
    acousticness = models.FloatField(validators=_between("acousticness"))
    instrumentalness = models.FloatField(validators=_between("instrumentalness"))
    speechiness = models.FloatField(validators=_between("speechiness"))
    liveness = models.FloatField(validators=_between("liveness"))
    loudness = models.FloatField(validators=_between("loudness"))
    tempo = models.FloatField(validators=_between("tempo"))
    mode = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=[(0, "minor"), (1, "major")]
    )
    key = models.SmallIntegerField(
        validators=[MinValueValidator(KEY_RANGE[0]), MaxValueValidator(KEY_RANGE[1])]
    )

    # Derived by the mood model; never edited directly.
    mood_valence = models.FloatField(editable=False)
    mood_arousal = models.FloatField(editable=False)
    mood_region = models.CharField(max_length=16, choices=MoodRegion.choices, editable=False)

    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The recommender's per-process feature matrix is invalidated when this moves.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["mood_region", "is_active"]),
            models.Index(fields=["genre", "is_active"]),
            models.Index(fields=["mood_valence", "mood_arousal"]),
        ]

    def __str__(self) -> str:
        return f"{self.title or '(untitled)'} - {self.artist or '(unknown)'}"


class ImportStatus(models.TextChoices):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(models.Model):
    """One CSV import. Progress (processed/total) is committed chunk by chunk, so a page can
    poll it while the upload request is still running."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    filename = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)  # repeated ids within the file
    rejected_count = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list)  # [{"line": n, "reasons": [...]}], capped
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import {self.pk} of {self.filename} ({self.status})"
