"""Every catalogue / playlist endpoint x every persona: who gets data, who gets refused.

Objects under test: an active track, the admin's import job, the patient's session with a
playlist. Expected statuses are spelled out per persona (style of test_permission_matrix).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.catalogue.models import ImportJob
from backend.recommendations import services as recommendation_services
from tests.backend.conftest import make_session
from tests.backend.test_catalogue_api import FEATURES, make_catalogue
from tests.backend.test_catalogue_import import GOOD, csv_bytes
from tests.personas import PATIENT_DATA, PERSONAS, cases, check, row, users


def _all(status: int) -> dict[str, Any]:
    return row(
        patient=status, other_patient=status, therapist=status, other_therapist=status, admin=status
    )


ADMIN_ONLY_200 = row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=200)
# Session data: the patient and their current therapist read; nobody else sees it exists.
SESSION_READ = PATIENT_DATA

MATRIX: list[tuple[str, str, str, dict[str, Any]]] = [
    ("get", "/api/tracks", "", _all(200)),
    ("get", "/api/tracks?q=Song&mood_region=happy", "", _all(200)),
    ("get", "/api/tracks/{track}", "", _all(200)),
    ("get", "/api/tracks/{track}/audio", "", _all(404)),  # exists for all; no file here
    (
        "post",
        "/api/tracks",
        "track",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=201),
    ),
    ("patch", "/api/tracks/{track}", "edit", ADMIN_ONLY_200),
    ("put", "/api/tracks/{track}", "track_put", ADMIN_ONLY_200),
    (
        "delete",
        "/api/tracks/{track}",
        "",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=204),
    ),
    ("get", "/api/tracks/export", "", ADMIN_ONLY_200),
    (
        "post",
        "/api/tracks/import",
        "csv",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=201),
    ),
    ("get", "/api/tracks/imports", "", ADMIN_ONLY_200),
    ("get", "/api/tracks/imports/{job}", "", ADMIN_ONLY_200),
    ("get", "/api/sessions/{session}/playlist", "", SESSION_READ),
    (
        "post",
        "/api/sessions/{session}/playlist",
        "length",
        row(patient=201, other_patient=404, therapist=403, other_therapist=404, admin=404),
    ),
    ("get", "/api/sessions/{session}/playlists", "", SESSION_READ),
    ("get", "/api/sessions/{session}/feedback", "", SESSION_READ),
    (
        "post",
        "/api/sessions/{session}/feedback",
        "feedback",
        row(patient=201, other_patient=404, therapist=403, other_therapist=404, admin=404),
    ),
    # playback inside the session: the patient writes their own events; the patient and their
    # current therapist read what was heard and what it did; admins never see it
    ("get", "/api/sessions/{session}/playback", "", SESSION_READ),
    (
        "post",
        "/api/sessions/{session}/playback",
        "playback",
        row(patient=201, other_patient=404, therapist=403, other_therapist=404, admin=404),
    ),
    # the patient's response model: the patient and their therapist read; only the
    # therapist switches learning; nobody else learns that the patient exists
    ("get", "/api/patients/{patient}/what-works", "", SESSION_READ),
    (
        "put",
        "/api/patients/{patient}/music-learning",
        "learning",
        row(patient=403, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
]


@pytest.fixture
def world(request, patient, other_patient, therapist, other_therapist, admin_user):  # type: ignore[no-untyped-def]
    tracks = make_catalogue(10)
    session = make_session(patient)
    playlist = recommendation_services.build_playlist(session=session, length=5)
    job = ImportJob.objects.create(filename="seed.csv", created_by=admin_user)
    return {
        "users": users(request),
        "ids": {
            "track": tracks[0].pk,
            "session": session.pk,
            "job": job.pk,
            "patient": patient.pk,
            "item": playlist.items.first().pk,  # type: ignore[union-attr]
        },
    }


def _body(kind: str, world: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    if kind == "track":
        return {"external_id": "newtrack", "duration_ms": 100000, **FEATURES}, "json"
    if kind == "track_put":
        return {"external_id": "t0", "title": "Renamed", "duration_ms": 100000, **FEATURES}, "json"
    if kind == "edit":
        return {"energy": 0.3}, "json"
    if kind == "csv":
        data = csv_bytes(GOOD.format(id="fromcsv"))
        return {"file": SimpleUploadedFile("t.csv", data, "text/csv")}, "multipart"
    if kind == "length":
        return {"length": 4}, "json"
    if kind == "playback":
        return {"item": world["ids"]["item"], "kind": "started", "position_ms": 0}, "json"
    if kind == "learning":
        return {"enabled": False}, "json"
    if kind == "feedback":
        return {"track": world["ids"]["track"], "kind": "liked"}, "json"
    return None, "json"


CASES = cases(MATRIX)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "kind", "persona", "expected"), CASES)
def test_endpoint_access(world, client_for, method, path, kind, persona, expected):  # type: ignore[no-untyped-def]
    client = client_for(world["users"][persona])
    url = path.format(**world["ids"])
    body, fmt = _body(kind, world)
    response = (
        getattr(client, method)(url, body, format=fmt) if body else getattr(client, method)(url)
    )
    check(response, expected)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS[1:])
def test_only_admins_see_inactive_tracks(world, client_for, persona):  # type: ignore[no-untyped-def]
    from backend.catalogue import services
    from backend.catalogue.models import Track

    hidden = Track.objects.get(pk=world["ids"]["track"])
    services.set_active(tracks=Track.objects.filter(pk=hidden.pk), active=False)
    client = client_for(world["users"][persona])
    response = client.get(f"/api/tracks/{hidden.pk}")
    assert response.status_code == (200 if persona == "admin" else 404)


@pytest.mark.django_db
def test_an_ended_assignment_hides_the_playlist_from_the_therapist(world, client_for):  # type: ignore[no-untyped-def]
    from backend.accounts import services
    from backend.accounts.models import Assignment

    patient = world["users"]["patient"]
    services.end_assignment(assignment=Assignment.objects.get(patient=patient))
    response = client_for(world["users"]["therapist"]).get(
        f"/api/sessions/{world['ids']['session']}/playlist"
    )
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/tracks/99999999999999999999999",
        "/api/sessions/99999999999999999999999/playlist",
        "/api/sessions/99999999999999999999999/feedback",
    ],
)
def test_absurd_ids_are_not_found_rather_than_server_errors(client_for, admin_user, path):  # type: ignore[no-untyped-def]
    assert client_for(admin_user).get(path).status_code == 404
