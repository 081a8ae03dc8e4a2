"""Users with one role, therapist-patient assignments over time, invitations and consent."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    THERAPIST = "therapist", "Therapist"
    ADMIN = "admin", "Admin"


# Django-admin apps the admin role may manage (see User.has_perm). Nothing else, whatever
# permission rows the account holds: API tokens (authtoken) and mood data (therapy) stay closed.
ADMIN_ROLE_APPS = frozenset({"accounts", "catalogue", "common"})  # common: the audit trail


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)
    # Reports bucket by the viewer's local day/week; stored per user.
    time_zone = models.CharField(max_length=64, default="UTC")

    class Meta(AbstractUser.Meta):
        constraints = [
            # "Therapist" and "therapist" are one account: the login lockout keys on the
            # lower-cased name, so a case variant must never exist next to the original.
            models.UniqueConstraint(Lower("username"), name="username_unique_ignoring_case"),
        ]

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_therapist(self) -> bool:
        return self.role == Role.THERAPIST

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def current_patients(self) -> models.QuerySet[User]:
        """Patients this user is assigned to right now (empty unless the user is a therapist:
        an assignment left over from an earlier role grants nothing)."""
        if not self.is_therapist:
            return User.objects.none()
        return User.objects.filter(
            pk__in=Assignment.objects.active().filter(therapist=self).values("patient")
        )

    def is_current_therapist_of(self, patient_id: int) -> bool:
        return (
            self.is_therapist
            and Assignment.objects.active().filter(therapist=self, patient_id=patient_id).exists()
        )

    def has_active_consent(self) -> bool:
        """Consent to the notice in force now: a new notice version needs consent again."""
        return ConsentRecord.objects.current().filter(patient=self).exists()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        # Roles, not permission rows, decide: the admin role manages accounts, the catalogue
        # and reads the audit trail in the Django admin; no row granted to any non-superuser
        # account opens anything else (mood data, API tokens). Superusers exist only from the
        # command line (createsuperuser) and cannot be made in the web admin.
        if self.is_active and self.is_superuser:
            return True
        return self.is_active and self.is_admin and perm.split(".", 1)[0] in ADMIN_ROLE_APPS

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.is_superuser:
            return True
        return self.is_active and self.is_admin and app_label in ADMIN_ROLE_APPS

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self._password_changed = True

    def save(self, *args: object, **kwargs: object) -> None:
        # The admin role is what gives access to Django's admin site (and losing it, too).
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)
        if getattr(self, "_password_changed", False):
            # Every path that changes a password (API, admin form, CLI) revokes API tokens.
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=self).delete()
            self._password_changed = False


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def active(self) -> AssignmentQuerySet:
        now = timezone.now()
        return self.filter(started_at__lte=now).filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=now)
        )


class Assignment(models.Model):
    """A therapist treats a patient from started_at until ended_at (open-ended if null)."""

    therapist = models.ForeignKey(User, on_delete=models.PROTECT, related_name="assignments")
    patient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="care_team")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["therapist", "patient"],
                condition=Q(ended_at__isnull=True),
                name="one_open_assignment_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=models.F("started_at")),
                name="assignment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["therapist", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.therapist} -> {self.patient}"

    def clean(self) -> None:
        """Only a therapist treats, only a patient is treated (checked by every form and by
        services.assign)."""
        from django.core.exceptions import ValidationError

        if self.therapist_id is not None and not self.therapist.is_therapist:
            raise ValidationError({"therapist": "only therapists can be assigned to patients"})
        if self.patient_id is not None and not self.patient.is_patient:
            raise ValidationError({"patient": "only patients can be assigned a therapist"})


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """A therapist invites a new patient; only the token's hash is stored."""

    therapist = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )

    @classmethod
    def issue(cls, *, therapist: User, email: str, days: int = 14) -> tuple[Invitation, str]:
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            therapist=therapist,
            email=email,
            token_hash=_hash_token(token),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, token

    @classmethod
    def find_open(cls, token: str) -> Invitation | None:
        return cls.objects.filter(
            token_hash=_hash_token(token), accepted_by__isnull=True, expires_at__gt=timezone.now()
        ).first()


class ConsentQuerySet(models.QuerySet["ConsentRecord"]):
    def current(self) -> ConsentQuerySet:
        """Consents not withdrawn and given to the notice version in force now."""
        return self.filter(
            withdrawn_at__isnull=True, notice_version=settings.CONSENT_NOTICE_VERSION
        )


class ConsentRecord(models.Model):
    """Explicit consent to camera-based emotion analysis, per notice version."""

    patient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    notice_version = models.CharField(max_length=32)
    granted_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(withdrawn_at__isnull=True),
                name="one_active_consent_per_patient",
            )
        ]


class LoginFailure(models.Model):
    """One failed login, kept for the lockout window (backend.accounts.lockout)."""

    username = models.CharField(max_length=150)  # as typed, lower-cased
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"]),
            models.Index(fields=["ip", "at"]),
            models.Index(fields=["at"]),
        ]
