"""The audit trail: one table, one writer (backend.common.audit), for every app.

It lives at the bottom of the app order so that any app can record an access without importing
the apps above it. The table keeps its original name (it began in the reports app).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    # a therapist read a patient's data
    SESSION_REPORT = "session_report"
    TREND = "trend"
    CASELOAD = "caseload"
    EXPORT_CSV = "export_csv"
    REPORT_PDF = "report_pdf"
    CHART = "chart"
    SESSIONS = "sessions"  # the session list or one session
    READINGS = "readings"
    FRAMES = "frames"
    CHECKINS = "checkins"
    PLAYLIST = "playlist"
    EVENTS_STREAM = "events_stream"  # one row per stream opened, not per event
    LISTENING = "listening"  # the tracks played in a session and what each did
    WHAT_WORKS = "what_works"  # the patient's music-response summary
    # data rights
    DATA_EXPORT = "data_export"  # a patient downloaded their own data (accounts.privacy)
    DATA_ERASURE = "data_erasure"  # an admin erased a patient's data
    # account events (actor: who did it; patient: the account it was done to)
    PASSWORD_SET = "password_set"
    ROLE_CHANGE = "role_change"
    ASSIGNMENT_START = "assignment_start"
    ASSIGNMENT_END = "assignment_end"
    ADMIN_VIEW = "admin_view"  # an admin opened an account's page in the Django admin
    LEARNING_SWITCH = "learning_switch"  # a therapist switched music learning on or off


class AuditLog(models.Model):
    """One access to a patient's data (who, what, when, which patient), or one account event
    (password set, role changed, assignment started/ended: `patient` is the account concerned)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Snapshots, so the trail stays readable if an account is later deleted.
    actor_username = models.CharField(max_length=150)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    patient_username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    path = models.CharField(max_length=500)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "reports_auditlog"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="reports_aud_patient_5c73f5_idx"),
            models.Index(fields=["actor", "-created_at"], name="reports_aud_actor_i_21f341_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.patient_username} at {self.created_at}"
