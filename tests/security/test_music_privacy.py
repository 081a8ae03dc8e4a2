"""Attacks on the music loop's new boundaries: what a patient heard, what it did to their mood
and the model learnt from it are mood data. Only the patient writes their playback; only the
patient and their current therapist read it; nobody else learns it exists; the therapist's
switch is theirs alone; the patient's export carries all of it and erasure removes it."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from backend.accounts import privacy
from backend.accounts import services as account_services
from backend.accounts.models import Assignment, User
from backend.recommendations import services
from backend.recommendations.models import Listening, PlaybackEvent, ResponseProfile
from tests.backend.conftest import make_session
from tests.backend.test_catalogue_api import make_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(patient: User, therapist: User) -> Any:
    """A session of the patient's in which one track was played to its end."""
    make_catalogue(30)
    session = make_session(patient, goal="calm")
    item = services.build_playlist(session=session, length=4).items.first()
    assert item is not None
    for kind, position in (("started", 0), ("finished", 1000)):
        services.record_playback(
            session=session, patient=patient, item_id=item.pk, kind=kind, position_ms=position
        )
    services.rebuild_profile(patient_id=patient.pk)
    return session, item


def test_nobody_writes_events_into_someone_elses_session(
    played: Any, other_patient: User, therapist: User, admin_user: User, client_for: Any
) -> None:
    session, item = played
    before = PlaybackEvent.objects.count()
    body = {"item": item.pk, "kind": "started", "position_ms": 0}
    url = f"/api/sessions/{session.pk}/playback"
    answers = {
        "other patient": client_for(other_patient).post(url, body, format="json").status_code,
        "therapist": client_for(therapist).post(url, body, format="json").status_code,
        "admin": client_for(admin_user).post(url, body, format="json").status_code,
    }
    assert answers == {"other patient": 404, "therapist": 403, "admin": 404}
    assert PlaybackEvent.objects.count() == before


def test_a_patient_cannot_play_another_patients_playlist_item_in_their_own_session(
    played: Any, other_patient: User, client_for: Any
) -> None:
    _, foreign_item = played
    mine = make_session(other_patient)
    response = client_for(other_patient).post(
        f"/api/sessions/{mine.pk}/playback",
        {"item": foreign_item.pk, "kind": "started", "position_ms": 0},
        format="json",
    )
    # the same answer as for an item id that does not exist: nothing about the other session
    missing = client_for(other_patient).post(
        f"/api/sessions/{mine.pk}/playback",
        {"item": 10**12, "kind": "started", "position_ms": 0},
        format="json",
    )
    assert response.status_code == missing.status_code == 400
    assert response.json()["error"]["message"] == missing.json()["error"]["message"]
    assert not Listening.objects.filter(session=mine).exists()


def test_an_ended_assignment_ends_the_therapists_access_to_the_music_data(
    played: Any, patient: User, therapist: User, client_for: Any
) -> None:
    session, _ = played
    client = client_for(therapist)
    reads = [f"/api/sessions/{session.pk}/playback", f"/api/patients/{patient.pk}/what-works"]
    assert [client.get(path).status_code for path in reads] == [200, 200]
    account_services.end_assignment(assignment=Assignment.objects.get(therapist=therapist))
    assert [client.get(path).status_code for path in reads] == [404, 404]
    switch = client.put(
        f"/api/patients/{patient.pk}/music-learning", {"enabled": False}, format="json"
    )
    assert switch.status_code == 404
    assert ResponseProfile.objects.get(patient=patient).learning_enabled is True


def test_the_patients_export_carries_the_music_data_and_erasure_removes_it(
    played: Any, patient: User, admin_user: User
) -> None:
    archive = privacy.export_patient_data(actor=patient, patient=patient)
    with zipfile.ZipFile(io.BytesIO(archive.read())) as zipped:
        data = json.loads(zipped.read("export.json"))["data"]
    (listening,) = [row["fields"] for row in data["recommendations.listening"]]
    assert listening["track"] == played[1].track_id and listening["outcome"] == "finished"
    events = [row["fields"]["kind"] for row in data["recommendations.playbackevent"]]
    assert events == ["started", "finished"]
    (profile,) = [row["fields"] for row in data["recommendations.responseprofile"]]
    assert profile["learning_enabled"] is True
    privacy.erase_patient(actor=admin_user, patient=patient, confirm=patient.username)
    assert not Listening.objects.exists() and not PlaybackEvent.objects.exists()
    assert not ResponseProfile.objects.exists()
