"""Who may keep following a live session is one hand-written statement
(accounts.selectors.may_follow_live, asked by every open stream every few seconds): it must
give the models' answer, which is the definition, for every kind of viewer and every state of
consent and assignment, and refuse where the models refuse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.accounts import services
from backend.accounts.models import Assignment, ConsentRecord, Role, User
from backend.accounts.selectors import may_follow_live
from tests.backend.conftest import make_user

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _models_answer(viewer_id: int, patient_id: int) -> bool:
    viewer = User.objects.filter(pk=viewer_id, is_active=True).first()
    if viewer is None:
        return False
    if viewer.pk == patient_id:
        return viewer.is_patient and viewer.has_active_consent()
    return viewer.is_current_therapist_of(patient_id)


def _assigned(therapist: User, patient: User, start: timedelta, end: timedelta | None) -> None:
    now = timezone.now()
    Assignment.objects.create(
        therapist=therapist,
        patient=patient,
        started_at=now + start,
        ended_at=None if end is None else now + end,
    )


CONSENT: dict[str, Callable[[User], Any]] = {
    "none": lambda p: None,
    "current": lambda p: services.grant_consent(patient=p),
    "withdrawn": lambda p: (
        services.grant_consent(patient=p),
        services.withdraw_consent(patient=p),
    ),
    "older_notice": lambda p: ConsentRecord.objects.create(patient=p, notice_version="2020-01"),
}
ASSIGNMENT: dict[str, Callable[[User, User, User], Any]] = {
    "none": lambda t, p, other: None,
    "open": lambda t, p, other: _assigned(t, p, -HOUR, None),
    "ends_later": lambda t, p, other: _assigned(t, p, -HOUR, HOUR),
    "ended": lambda t, p, other: _assigned(t, p, -2 * HOUR, -HOUR),
    "starts_later": lambda t, p, other: _assigned(t, p, HOUR, None),
    "another_patient": lambda t, p, other: _assigned(t, other, -HOUR, None),
}


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        "patient": make_user("live-pat", Role.PATIENT),
        "other": make_user("live-other", Role.PATIENT),
        "therapist": make_user("live-ther", Role.THERAPIST),
        "admin": make_user("live-admin", Role.ADMIN),
    }


@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
@pytest.mark.parametrize("consent", sorted(CONSENT))
def test_the_patient_themself(consent: str, active: bool, people: dict[str, User]) -> None:
    patient = people["patient"]
    CONSENT[consent](patient)
    User.objects.filter(pk=patient.pk).update(is_active=active)
    expected = _models_answer(patient.pk, patient.pk)
    assert expected is (active and consent == "current")  # the rule, stated once more
    assert may_follow_live(viewer_id=patient.pk, patient_id=patient.pk) is expected


@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT))
@pytest.mark.parametrize("viewer", ["therapist", "admin", "other"])
def test_anyone_else(viewer: str, assignment: str, active: bool, people: dict[str, User]) -> None:
    patient, who = people["patient"], people[viewer]
    services.grant_consent(patient=patient)
    ASSIGNMENT[assignment](who, patient, people["other"])
    User.objects.filter(pk=who.pk).update(is_active=active)
    expected = _models_answer(who.pk, patient.pk)
    assert expected is (active and viewer == "therapist" and assignment in ("open", "ends_later"))
    assert may_follow_live(viewer_id=who.pk, patient_id=patient.pk) is expected


def test_a_therapist_whose_role_changed_keeps_no_access(people: dict[str, User]) -> None:
    therapist, patient = people["therapist"], people["patient"]
    _assigned(therapist, patient, -HOUR, None)
    assert may_follow_live(viewer_id=therapist.pk, patient_id=patient.pk)
    User.objects.filter(pk=therapist.pk).update(role=Role.ADMIN)
    assert not _models_answer(therapist.pk, patient.pk)
    assert not may_follow_live(viewer_id=therapist.pk, patient_id=patient.pk)


def test_an_account_that_is_gone(people: dict[str, User]) -> None:
    assert not may_follow_live(viewer_id=10**9, patient_id=people["patient"].pk)
