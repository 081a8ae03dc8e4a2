"""Every endpoint x every persona: who gets data, who gets refused.

The patient's session, frame, reading and check-in are the objects under test; the
expected status per persona is spelled out for each endpoint, so a change in access
rules shows up here as a readable diff.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.backend.conftest import image_bytes, make_checkin, make_reading, make_session
from tests.personas import DENY_ANON, PERSONAS, cases, check, row, users

# (method, path template, body kind) -> expected status per persona
MATRIX: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "get",
        "/api/me",
        "",
        row(patient=200, other_patient=200, therapist=200, other_therapist=200, admin=200),
    ),
    (
        "get",
        "/api/sessions/{session}",
        "",
        row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "patch",
        "/api/sessions/{session}",
        "notes",
        # the patient's own notes: only the patient writes them
        row(patient=200, other_patient=404, therapist=403, other_therapist=404, admin=404),
    ),
    (
        "patch",
        "/api/sessions/{session}",
        "therapist_notes",
        # the therapists' notes: only a current therapist writes them
        row(patient=403, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "post",
        "/api/sessions",
        "session",
        row(patient=201, other_patient=201, therapist=403, other_therapist=403, admin=403),
    ),
    (
        "post",
        "/api/sessions/{session}/end",
        "",
        row(patient=200, other_patient=404, therapist=403, other_therapist=403, admin=403),
    ),
    (
        "post",
        "/api/sessions/{session}/frames",
        "frame",
        row(patient=202, other_patient=404, therapist=403, other_therapist=403, admin=403),
    ),
    (
        "get",
        "/api/sessions/{session}/frames",
        "",
        row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "get",
        "/api/sessions/{session}/readings",
        "",
        row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "get",
        "/api/frames/{frame}",
        "",
        row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "get",
        "/api/checkins/{checkin}",
        "",
        row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404),
    ),
    (
        "post",
        "/api/checkins",
        "checkin",
        row(patient=201, other_patient=400, therapist=403, other_therapist=403, admin=403),
    ),
    (
        "get",
        "/api/users",
        "",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=200),
    ),
    (
        "post",
        "/api/users",
        "user",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=201),
    ),
    (
        "get",
        "/api/assignments",
        "",
        row(patient=200, other_patient=200, therapist=200, other_therapist=200, admin=200),
    ),
    (
        "post",
        "/api/assignments",
        "assignment",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=201),
    ),
    (
        "post",
        "/api/assignments/{assignment}/end",
        "",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=200),
    ),
    (
        "get",
        "/api/patients",
        "",
        row(patient=403, other_patient=403, therapist=200, other_therapist=200, admin=403),
    ),
    (
        "post",
        "/api/invitations",
        "invite",
        row(patient=403, other_patient=403, therapist=201, other_therapist=201, admin=403),
    ),
    (
        "get",
        "/api/me/consent",
        "",
        row(patient=200, other_patient=200, therapist=403, other_therapist=403, admin=403),
    ),
]


@pytest.fixture
def world(request, patient, other_patient, therapist, other_therapist, admin_user):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    reading = make_reading(session)
    checkin = make_checkin(session)
    from backend.accounts.models import Assignment

    return {
        "users": users(request),
        "ids": {
            "session": session.pk,
            "frame": reading.frame_id,
            "checkin": checkin.pk,
            "assignment": Assignment.objects.get(patient=patient).pk,
        },
        "session": session,
    }


def _body(kind: str, world: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    users = world["users"]
    if kind == "notes":
        return {"notes": "felt calmer"}, "json"
    if kind == "therapist_notes":
        return {"therapist_notes": "engaged"}, "json"
    if kind == "session":
        return {"goal": "calm"}, "json"
    if kind == "frame":
        return {"image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")}, "multipart"
    if kind == "checkin":
        return {
            "session": world["ids"]["session"],
            "phase": "after",
            "valence": 0.4,
            "arousal": 0.1,
            "word": "ok",
        }, "json"
    if kind == "user":
        return {"username": "newbie", "password": "another-long-pass-9", "role": "patient"}, "json"
    if kind == "assignment":
        return {"therapist": users["other_therapist"].pk, "patient": users["patient"].pk}, "json"
    if kind == "invite":
        return {"email": "new@example.org"}, "json"
    return None, "json"


CASES = cases(MATRIX)


@pytest.mark.django_db(transaction=False)
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
@pytest.mark.parametrize("persona", PERSONAS)
def test_session_list_shows_only_visible_sessions(world, client_for, persona):  # type: ignore[no-untyped-def]
    response = client_for(world["users"][persona]).get("/api/sessions")
    if persona == "anonymous":
        assert response.status_code in DENY_ANON
        return
    ids = {s["id"] for s in response.json()["results"]}
    sees = persona in ("patient", "therapist")
    assert (world["ids"]["session"] in ids) is sees


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS[1:])
def test_checkin_list_shows_only_visible_checkins(world, client_for, persona):  # type: ignore[no-untyped-def]
    response = client_for(world["users"][persona]).get("/api/checkins")
    ids = {c["id"] for c in response.json()["results"]}
    assert (world["ids"]["checkin"] in ids) is (persona in ("patient", "therapist"))


@pytest.mark.django_db
def test_ended_assignment_revokes_therapist_access(world, client_for):  # type: ignore[no-untyped-def]
    from backend.accounts import services
    from backend.accounts.models import Assignment

    services.end_assignment(assignment=Assignment.objects.get(pk=world["ids"]["assignment"]))
    response = client_for(world["users"]["therapist"]).get(
        f"/api/sessions/{world['ids']['session']}/readings"
    )
    assert response.status_code == 404
