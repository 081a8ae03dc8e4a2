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
    # the learned predicted progress toward the goal (a Thompson draw); null when not learning
    gain = models.FloatField(null=True, blank=True)

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


class PlaybackKind(models.TextChoices):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    FINISHED = "finished"
    SKIPPED = "skipped"


class StretchOutcome(models.TextChoices):
    PLAYING = "playing"  # still open
    FINISHED = "finished"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # another track started, or the session ended, while it played


class Listening(models.Model):
    """One played stretch of a playlist item: from `started` to `finished` / `skipped`.

    Listening time adds up the positions between started/resumed and paused/finished/skipped
    (what was heard, not wall time). Once closed, `effect_*` hold what the stretch did to the
    mood (backend.recommendations.attribution), measured when it closed and again when the
    session's learning runs (late readings count); null when the faces and check-ins say
    nothing about it."""

    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="listening")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listening"
    )
    item = models.ForeignKey(RecommendationItem, on_delete=models.CASCADE, related_name="listening")
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="+")
    goal = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=StretchOutcome.choices, default=StretchOutcome.PLAYING
    )
    start_position_ms = models.PositiveIntegerField()
    end_position_ms = models.PositiveIntegerField(null=True, blank=True)
    # The segment now playing started at this position (null while paused).
    segment_position_ms = models.PositiveIntegerField(null=True, blank=True)
    segment_started_at = models.DateTimeField(null=True, blank=True)
    listened_ms = models.PositiveIntegerField(default=0)
    # What it did (attribution.Effect); progress is along the goal's direction.
    effect_valence = models.FloatField(null=True, blank=True)
    effect_arousal = models.FloatField(null=True, blank=True)
    effect_variance = models.FloatField(null=True, blank=True)
    effect_progress = models.FloatField(null=True, blank=True)
    effect_faces = models.PositiveIntegerField(default=0)
    effect_source = models.CharField(max_length=16, blank=True)
    effect_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["session", "started_at"]),
            models.Index(fields=["patient", "outcome"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(outcome="playing"),
                name="one_open_listening_per_session",
            )
        ]

    def __str__(self) -> str:
        return f"listening {self.pk} to track {self.track_id} ({self.outcome})"


class PlaybackEvent(models.Model):
    """One player event as the patient's page reported it, in arrival order."""

    session = models.ForeignKey(
        TherapySession, on_delete=models.CASCADE, related_name="playback_events"
    )
    item = models.ForeignKey(RecommendationItem, on_delete=models.CASCADE, related_name="+")
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="+")
    listening = models.ForeignKey(Listening, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=PlaybackKind.choices)
    position_ms = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    # the page's id for the event: a retried POST finds the event instead of adding another
    client_event_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_event_id"],
                condition=~models.Q(client_event_id=""),
                name="one_playback_event_per_client_id",
            )
        ]


class ResponseProfile(models.Model):
    """A patient's music-response model (learning.py): the sufficient statistics of their
    measured stretches, rebuilt from the stored effects after each session, and the
    therapist's switch."""

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="response_profile"
    )
    learning_enabled = models.BooleanField(default=True)
    evidence = models.JSONField(default=dict)  # learning.Evidence.to_json(); {} = none yet
    sessions = models.PositiveIntegerField(default=0)  # sessions with a measured stretch
    version = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    learning_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    learning_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"response profile of {self.patient_id}"
