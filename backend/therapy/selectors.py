"""Who may read what: every therapy query starts from these scoped querysets.

Patients see their own data; therapists the data of their currently assigned patients;
nobody else sees mood data: an admin (or an account whose role changed) with an assignment
row still sees nothing, because the role is checked before the assignments.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db.models import QuerySet

from backend.accounts.models import Assignment, ConsentRecord, Role, User
from backend.common.sql import column, table
from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession


def visible_patient_ids(user: User) -> QuerySet[Assignment] | list[int]:
    if not user.is_authenticated:
        return []
    if user.is_patient:
        return [user.pk]
    if not user.is_therapist:
        return []
    return Assignment.objects.active().filter(therapist=user).values_list("patient", flat=True)


def require_visible_filter(user: User, name: str, raw: str | None) -> None:
    """`?patient=` / `?session=` naming someone the user may not see answers 404, the same as
    an id that does not exist (no hint either way)."""
    from rest_framework.exceptions import NotFound

    if raw is None:
        return
    visible = (
        User.objects.filter(pk__in=visible_patient_ids(user))
        if name == "patient"
        else visible_sessions(user)
    )
    if not (raw.isdigit() and len(raw) <= 18 and visible.filter(pk=int(raw)).exists()):
        raise NotFound(f"no such {name}")


def can_view_patient(user: User, patient_id: int) -> bool:
    if not user.is_authenticated:
        return False
    if user.pk == patient_id and user.is_patient:
        return True
    return user.is_current_therapist_of(patient_id)


def visible_patient(user: User, patient_id: int) -> User | None:
    """The patient, when `user` may see them (themselves, or their current therapist)."""
    if not can_view_patient(user, patient_id):
        return None
    return User.objects.filter(pk=patient_id, role=Role.PATIENT).first()


def visible_sessions(user: User) -> QuerySet[TherapySession]:
    return TherapySession.objects.filter(patient__in=visible_patient_ids(user))


def visible_frames(user: User) -> QuerySet[Frame]:
    return Frame.objects.filter(session__patient__in=visible_patient_ids(user))


def visible_readings(user: User) -> QuerySet[EmotionReading]:
    return EmotionReading.objects.filter(patient__in=visible_patient_ids(user))


def visible_checkins(user: User) -> QuerySet[MoodCheckIn]:
    return MoodCheckIn.objects.filter(patient__in=visible_patient_ids(user))


# what the upload reads of its session (the rest loads on first use, as deferred fields do)
UPLOAD_SESSION_FIELDS = ("id", "patient", "started_at", "ended_at")


@cache  # one database engine per process
def _own_session_sql() -> str:
    session, consent = TherapySession, ConsentRecord
    fields = ", ".join(f"s.{column(session, name)}" for name in UPLOAD_SESSION_FIELDS)
    # only quoted table and column names from the models go in; every value is a parameter
    return (
        f"SELECT {fields}, EXISTS (SELECT 1 FROM {table(consent)} c"  # noqa: S608
        f" WHERE c.{column(consent, 'patient')} = s.{column(session, 'patient')}"
        f" AND c.{column(consent, 'notice_version')} = %s"
        f" AND c.{column(consent, 'withdrawn_at')} IS NULL) AS patient_consented"
        f" FROM {table(session)} s"
        f" WHERE s.{column(session, 'id')} = %s AND s.{column(session, 'patient')} = %s"
    )


def own_session_for_upload(patient: User, pk: int) -> TherapySession | None:
    """The patient's own session, with `patient_consented` (consent to the notice in force)
    answered in the same statement: the frame upload, the hottest request, reads both at once.

    Written out in SQL because compiling it through the ORM cost more CPU than running it, on
    every upload: `python -m bench.upload_cost --json` measured 19.6 ms CPU per upload with the
    ORM query and 16.9 ms with this one (alternating runs, an AVX2 EPYC). The consent rule is
    ConsentRecord.objects.current()'s; tests/backend/test_upload_session_query.py holds the two
    to the same answer in every consent state."""
    rows = TherapySession.objects.raw(
        _own_session_sql(), [settings.CONSENT_NOTICE_VERSION, pk, patient.pk]
    )
    for session in rows:
        session.patient_consented = bool(session.patient_consented)  # SQLite answers 0 / 1
        return session
    return None
