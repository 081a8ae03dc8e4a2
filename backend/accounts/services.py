"""Writes for accounts: keyword-only arguments, one transaction each."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import Assignment, ConsentRecord, Invitation, Role, User
from backend.common import audit, notify
from backend.common.errors import ApplicationError
from backend.common.models import AuditAction


def _audit_account_event(*, actor: User, user: User, action: str, **params: object) -> None:
    audit.record(actor=actor, patients=[user], action=action, params=params)


def check_username_free(username: str, *, exclude: User | None = None) -> None:
    """Usernames are unique ignoring case (the database enforces it too)."""
    taken = User.objects.filter(username__iexact=username)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ApplicationError("that username is taken", code="username_taken")


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
    check_username_free(username)
    user = User(
        username=username, email=email, role=role, first_name=first_name, last_name=last_name
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def set_password(*, actor: User, user: User, password: str) -> None:
    """Any password change: validated, audited; the model revokes the user's API tokens."""
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_password_set(actor=actor, user=user)


def audit_admin_view(*, actor: User, user: User, path: str) -> None:
    audit.record(actor=actor, patients=[user], action=AuditAction.ADMIN_VIEW, path=path)


def audit_password_set(*, actor: User, user: User) -> None:
    """For the admin site's own password form, which validates and saves by itself."""
    _audit_account_event(actor=actor, user=user, action=AuditAction.PASSWORD_SET)


@transaction.atomic
def change_own_password(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise ApplicationError("the current password is wrong", code="bad_credentials")
    set_password(actor=user, user=user, password=new_password)


@transaction.atomic
def update_account(*, actor: User, user: User, **fields: object) -> User:
    """Profile and (for admins) role/active changes. A role change ends every open assignment
    of the account, so a former therapist keeps no access to patients."""
    if "username" in fields:
        check_username_free(str(fields["username"]), exclude=user)
    old_role = user.role
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()
    if user.role != old_role or not user.is_active:
        notify.access_changed(user.pk)  # as a patient: their own streams look again
    if user.role != old_role:
        ended = Assignment.objects.filter(
            Q(therapist=user) | Q(patient=user), ended_at__isnull=True
        )
        for assignment in ended:
            end_assignment(actor=actor, assignment=assignment)
        _audit_account_event(
            actor=actor, user=user, action=AuditAction.ROLE_CHANGE, old=old_role, new=user.role
        )
    return user


@transaction.atomic
def assign(*, therapist: User, patient: User, actor: User | None = None) -> Assignment:
    candidate = Assignment(therapist=therapist, patient=patient)
    try:
        candidate.clean()
    except DjangoValidationError as exc:
        raise ApplicationError(exc.messages[0], code="invalid_assignment") from exc
    existing = Assignment.objects.active().filter(therapist=therapist, patient=patient).first()
    if existing:
        return existing
    candidate.save()
    if actor is not None:
        _audit_account_event(
            actor=actor, user=patient, action=AuditAction.ASSIGNMENT_START, therapist=therapist.pk
        )
    return candidate


@transaction.atomic
def end_assignment(*, assignment: Assignment, actor: User | None = None) -> Assignment:
    if assignment.ended_at is None:
        assignment.ended_at = timezone.now()
        assignment.save(update_fields=["ended_at"])
        notify.access_changed(assignment.patient_id)  # the therapist's live streams end
        if actor is not None:
            _audit_account_event(
                actor=actor,
                user=assignment.patient,
                action=AuditAction.ASSIGNMENT_END,
                therapist=assignment.therapist_id,
            )
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
    """Withdraw; queued frames of this patient are then refused by the worker, and the
    patient's own live streams end."""
    notify.access_changed(patient.pk)
    return ConsentRecord.objects.filter(patient=patient, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
