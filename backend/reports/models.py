"""Report storage: two derived tables that keep reports fast (the audit log is in common).

MoodRollup holds quarter-hour sums of a *settled* session's primary readings (ended, no frame
still queued or processing). Quarter hours, because every time zone in use today is offset from
UTC by a multiple of 15 minutes, so day/week/month buckets in any viewer's zone are exact unions
of rollup rows. SessionSummary holds one row per settled session (counts, start/end/mean mood).
Both are filled lazily at read time (services.refresh_rollups): nothing on the write path needs
to know about them. Sessions still running are aggregated from raw readings on each request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from backend.therapy.models import TherapySession


class MoodRollup(models.Model):
    """Quarter-hour sums of one settled session's primary readings (see the module docstring).

    sum_p_<emotion> adds up that emotion's probability; top_<emotion> counts the readings whose
    top emotion it is. Means, spreads and distributions of any union of rows follow exactly.
    """

    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    bucket_start = models.DateTimeField()  # UTC, aligned to a quarter hour
    n = models.PositiveIntegerField()
    sum_valence = models.FloatField()
    sumsq_valence = models.FloatField()
    sum_arousal = models.FloatField()
    sumsq_arousal = models.FloatField()
    sum_p_angry = models.FloatField()
    sum_p_disgust = models.FloatField()
    sum_p_fear = models.FloatField()
    sum_p_happy = models.FloatField()
    sum_p_sad = models.FloatField()
    sum_p_surprise = models.FloatField()
    sum_p_neutral = models.FloatField()
    top_angry = models.PositiveIntegerField()
    top_disgust = models.PositiveIntegerField()
    top_fear = models.PositiveIntegerField()
    top_happy = models.PositiveIntegerField()
    top_sad = models.PositiveIntegerField()
    top_surprise = models.PositiveIntegerField()
    top_neutral = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "bucket_start"], name="one_rollup_per_session_bucket"
            )
        ]
        indexes = [models.Index(fields=["patient", "bucket_start"])]


class SessionSummary(models.Model):
    """Per settled session: frame outcomes and mood at start, end and on average."""

    session = models.OneToOneField(
        TherapySession, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    frames_total = models.PositiveIntegerField()
    frames_done = models.PositiveIntegerField()
    frames_no_face = models.PositiveIntegerField()
    frames_failed = models.PositiveIntegerField()
    readings = models.PositiveIntegerField()  # primary readings
    mean_valence = models.FloatField(null=True)
    mean_arousal = models.FloatField(null=True)
    start_valence = models.FloatField(null=True)
    start_arousal = models.FloatField(null=True)
    end_valence = models.FloatField(null=True)
    end_arousal = models.FloatField(null=True)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "started_at"])]
