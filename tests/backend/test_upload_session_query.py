"""The upload's session query is hand-written SQL (the hottest request; see
selectors.own_session_for_upload): it must give the ORM's answer, which is the definition, in
every state of the session and of the patient's consent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.accounts import services
from backend.accounts.models import ConsentRecord, User
from backend.therapy import selectors
from backend.therapy.models import TherapySession
from tests.backend.conftest import make_session

pytestmark = pytest.mark.django_db


def _orm_answer(patient: User, pk: int) -> tuple[bool, bool]:
    """(found, consented) as the ORM states the rule."""
    found = TherapySession.objects.filter(pk=pk, patient=patient).exists()
    return found, found and ConsentRecord.objects.current().filter(patient=patient).exists()


def _consented(patient: User) -> None:
    services.grant_consent(patient=patient)


def _withdrawn(patient: User) -> None:
    services.grant_consent(patient=patient)
    services.withdraw_consent(patient=patient)


def _older_notice(patient: User) -> None:
    ConsentRecord.objects.create(patient=patient, notice_version="2020-01")


def _consent_again_after_withdrawing(patient: User) -> None:
    _withdrawn(patient)
    services.grant_consent(patient=patient)


STATES: dict[str, Callable[[User], None]] = {
    "never_asked": lambda patient: None,
    "consented": _consented,
    "withdrawn": _withdrawn,
    "older_notice_only": _older_notice,
    "consented_again": _consent_again_after_withdrawing,
}


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("whose", ["own", "other_patients", "missing"])
def test_the_hand_written_query_gives_the_orms_answer(
    state: str, whose: str, patient: Any, other_patient: Any
) -> None:
    ConsentRecord.objects.filter(patient=patient).delete()  # the fixture's consent
    STATES[state](patient)
    own = make_session(patient, ended_at=timezone.now() + timedelta(hours=1))
    pk = {"own": own.pk, "other_patients": make_session(other_patient).pk, "missing": 10**9}[whose]
    session = selectors.own_session_for_upload(patient, pk)
    assert (session is not None, bool(session and session.patient_consented)) == _orm_answer(
        patient, pk
    )
    if session is not None:  # the fields the upload reads, typed as the ORM types them
        assert (session.pk, session.patient_id, session.started_at, session.ended_at) == (
            own.pk,
            patient.pk,
            own.started_at,
            own.ended_at,
        )
        assert session.patient_consented is (state in ("consented", "consented_again"))
