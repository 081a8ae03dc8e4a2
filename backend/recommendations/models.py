"""Playlists (recommendations) with their inputs and per-track reasons, and track feedback.

A new Recommendation is stored each time the playlist is built or adapts, so a therapist can
see which mood, goal and history each playlist was built from and why each track was chosen.
The session's current playlist is its newest Recommendation.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from backend.catalogue.models import Track
from backend.therapy.models import TherapySession

unit_interval = [MinValueValidator(-1.0), MaxValueValidator(1.0)]


class MoodSource(models.TextChoices):
    FACE = "face", "smoothed facial emotion of this session"
    CHECKIN = "checkin", "the patient's check-in"
    TRACK_CHECKIN = "track_checkin", "the patient's check-in after a track"
    DEFAULT = "default", "no mood known yet (neutral)"


class Recommendation(models.Model):
    session = models.ForeignKey(
        TherapySession, on_delete=models.CASCADE, related_name="recommendations"
    )
    created_at = models.DateTimeField(default=timezone.now)
    goal = models.CharField(max_length=16)
    length = models.PositiveSmallIntegerField()  # the session playlist's requested length
    start_valence = models.FloatField(validators=unit_interval)
    start_arousal = models.FloatField(validators=unit_interval)
    mood_source = models.CharField(max_length=16, choices=MoodSource.choices)
    target_valence = models.FloatField(validators=unit_interval)
    target_arousal = models.FloatField(validators=unit_interval)
    trigger = models.CharField(max_length=200)  # why this playlist was built now
    inputs = models.JSONField(default=dict)  # history counts, excluded ids, weights, version

    class Meta:
        indexes = [models.Index(fields=["session", "-created_at"])]

    def __str__(self) -> str:
        return f"playlist {self.pk} for session {self.session_id}"


class RecommendationItem(models.Model):
    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveSmallIntegerField()
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="+")
    waypoint_valence = models.FloatField()
    waypoint_arousal = models.FloatField()
    track_valence = models.FloatField()
    track_arousal = models.FloatField()
    cost = models.FloatField()
    reason = models.TextField()
    # Tracks already played or skipped in the session lead a rebuilt playlist, so the list
    # always shows the session's whole sequence; only the rest was chosen by this build.
    already_played = models.BooleanField(default=False)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation", "position"], name="one_track_per_position"
            )
        ]


class FeedbackKind(models.TextChoices):
    PLAYED = "played"
    SKIPPED = "skipped"
    LIKED = "liked"
    DISLIKED = "disliked"


class TrackFeedback(models.Model):
    """What the patient did with a track in a session, optionally with a mood check-in."""

    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="feedback")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="track_feedback"
    )
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=FeedbackKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Optional check-in after the track: sliders in [-1, 1] and a word.
    valence = models.FloatField(null=True, blank=True, validators=unit_interval)
    arousal = models.FloatField(null=True, blank=True, validators=unit_interval)
    word = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "kind"]),
            models.Index(fields=["session", "created_at"]),
        ]
