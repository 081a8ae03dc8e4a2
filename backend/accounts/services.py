"""Writes for accounts: keyword-only arguments, one transaction each."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import Assignment, ConsentRecord, Invitation, Role, User
from backend.common.errors import ApplicationError


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    if role not in Role.values:
        raise ApplicationError(f"unknown role {role!r}")
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError("that username is taken", code="username_taken")
    user = User(
        username=username, email=email, role=role, first_name=first_name, last_name=last_name
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def assign(*, therapist: User, patient: User) -> Assignment:
    if not therapist.is_therapist:
        raise ApplicationError("only therapists can be assigned to patients")
    if not patient.is_patient:
        raise ApplicationError("only patients can be assigned a therapist")
    existing = Assignment.objects.active().filter(therapist=therapist, patient=patient).first()
    if existing:
        return existing
    return Assignment.objects.create(therapist=therapist, patient=patient)


@transaction.atomic
def end_assignment(*, assignment: Assignment) -> Assignment:
    if assignment.ended_at is None:
        assignment.ended_at = timezone.now()
        assignment.save(update_fields=["ended_at"])
    return assignment


def invite_patient(*, therapist: User, email: str) -> tuple[Invitation, str]:
    if not therapist.is_therapist:
        raise ApplicationError(
            "only therapists can invite patients",
            status_code=status.HTTP_403_FORBIDDEN,
            code="forbidden",
        )
    return Invitation.issue(therapist=therapist, email=email)


@transaction.atomic
def accept_invitation(*, token: str, username: str, password: str) -> User:
    invitation = Invitation.find_open(token)
    if invitation is None:
        raise ApplicationError(
            "this invitation is invalid, used or expired", code="invalid_invitation"
        )
    # lock the row so two concurrent accepts cannot both create accounts
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_by_id is not None:
        raise ApplicationError("this invitation was already used", code="invalid_invitation")
    patient = create_user(
        username=username, password=password, role=Role.PATIENT, email=invitation.email
    )
    invitation.accepted_by = patient
    invitation.save(update_fields=["accepted_by"])
    assign(therapist=invitation.therapist, patient=patient)
    return patient


@transaction.atomic
def grant_consent(*, patient: User, notice_version: str | None = None) -> ConsentRecord:
    if not patient.is_patient:
        raise ApplicationError("only patients give consent for emotion analysis")
    version = notice_version or settings.CONSENT_NOTICE_VERSION
    if version != settings.CONSENT_NOTICE_VERSION:
        raise ApplicationError(
            f"consent must be given to the current notice ({settings.CONSENT_NOTICE_VERSION})",
            code="stale_notice",
        )
    current = (
        ConsentRecord.objects.select_for_update()
        .filter(patient=patient, withdrawn_at__isnull=True)
        .first()
    )
    if current and current.notice_version == version:
        return current
    if current:
        current.withdrawn_at = timezone.now()
        current.save(update_fields=["withdrawn_at"])
    return ConsentRecord.objects.create(patient=patient, notice_version=version)


@transaction.atomic
def withdraw_consent(*, patient: User) -> int:
    """Withdraw; queued frames of this patient are then refused by the worker."""
    return ConsentRecord.objects.filter(patient=patient, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
