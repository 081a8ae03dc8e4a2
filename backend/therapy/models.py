"""Therapy sessions, uploaded frames, the emotion readings derived from them, check-ins."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Mirrors ml.emotions.EMOTIONS (the web process never imports ml's heavy parts; a test
# checks that both lists are identical).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class Emotion(models.TextChoices):
    ANGRY = "angry"
    DISGUST = "disgust"
    FEAR = "fear"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISE = "surprise"
    NEUTRAL = "neutral"


class Goal(models.TextChoices):
    CALM = "calm", "Calmer"
    UPLIFT = "uplift", "Brighter mood"
    ENERGISE = "energise", "More energy"
    MAINTAIN = "maintain", "Keep steady"


unit_interval = [MinValueValidator(-1.0), MaxValueValidator(1.0)]


class TherapySession(models.Model):
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="therapy_sessions"
    )
    goal = models.CharField(max_length=16, choices=Goal.choices, default=Goal.CALM)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)  # the patient's own notes: written by the patient only
    # the therapists' clinical notes: written by a current therapist only, not shown to the
    # patient in the app (they are in the patient's data export)
    therapist_notes = models.TextField(blank=True)
    # Live mood state, maintained by the worker after each analysed frame (smoothed).
    mood_valence = models.FloatField(null=True, blank=True)
    mood_arousal = models.FloatField(null=True, blank=True)
    mood_distribution = models.JSONField(null=True, blank=True)
    mood_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="session_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.patient_id} ({self.goal})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class FrameStatus(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    NO_FACE = "no_face"
    FAILED = "failed"


def frame_upload_to(frame: Frame, filename: str) -> str:
    return f"frames/{frame.session_id}/{filename}"


class Frame(models.Model):
    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="frames")
    captured_at = models.DateTimeField(default=timezone.now)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Emptied after analysis unless FRAME_RETENTION=keep: raw frames are health data.
    image = models.FileField(upload_to=frame_upload_to, blank=True, max_length=255)
    content_hash = models.CharField(max_length=64)  # sha256 of the uploaded bytes
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=FrameStatus.choices, default=FrameStatus.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker last claimed the frame: the claim's fencing token and its lease start.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # when its analysis message was last sent (database clock): a queued frame whose message
    # is older than FRAME_RESEND_AFTER_SECONDS is sent again (backend.therapy.rescue)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # the client's idempotency key (Idempotency-Key header): a retried upload finds its frame
    client_key = models.CharField(max_length=64, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=128, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["session", "captured_at"]),
            models.Index(fields=["status", "last_sent_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_key"],
                condition=~models.Q(client_key=""),
                name="one_frame_per_client_key",
            )
        ]

    def __str__(self) -> str:
        return f"frame {self.pk} ({self.status})"


class EmotionReading(models.Model):
    """One face in one frame. Patient and time are denormalised for fast report queries."""

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="readings")
    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="readings")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readings"
    )
    captured_at = models.DateTimeField()
    face_index = models.PositiveSmallIntegerField()  # 0 = largest face
    is_primary = models.BooleanField(default=True)  # the face that drives the patient's mood
    box_x1 = models.FloatField()
    box_y1 = models.FloatField()
    box_x2 = models.FloatField()
    box_y2 = models.FloatField()
    landmarks = models.JSONField()  # [[x, y] * 5]: eyes, nose, mouth corners
    detection_score = models.FloatField()
    p_angry = models.FloatField()
    p_disgust = models.FloatField()
    p_fear = models.FloatField()
    p_happy = models.FloatField()
    p_sad = models.FloatField()
    p_surprise = models.FloatField()
    p_neutral = models.FloatField()
    emotion = models.CharField(max_length=16, choices=Emotion.choices)
    confidence = models.FloatField()
    valence = models.FloatField(validators=unit_interval)
    arousal = models.FloatField(validators=unit_interval)
    model_version = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["frame", "face_index"], name="one_reading_per_face")
        ]
        indexes = [
            models.Index(fields=["patient", "captured_at"]),
            models.Index(fields=["session", "captured_at"]),
        ]

    @property
    def probabilities(self) -> dict[str, float]:
        return {e: getattr(self, f"p_{e}") for e in EMOTIONS}


class CheckInPhase(models.TextChoices):
    BEFORE = "before"
    AFTER = "after"
    STANDALONE = "standalone"


class MoodCheckIn(models.Model):
    """The patient's self-reported mood: sliders in [-1, 1] plus a word."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkins"
    )
    session = models.ForeignKey(
        TherapySession, null=True, blank=True, on_delete=models.CASCADE, related_name="checkins"
    )
    phase = models.CharField(max_length=16, choices=CheckInPhase.choices)
    valence = models.FloatField(validators=unit_interval)
    arousal = models.FloatField(validators=unit_interval)
    word = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "phase"],
                condition=Q(session__isnull=False),
                name="one_checkin_per_session_phase",
            )
        ]
        indexes = [models.Index(fields=["patient", "created_at"])]
