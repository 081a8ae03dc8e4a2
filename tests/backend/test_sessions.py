"""Sessions, readings list and check-ins behave as a patient and therapist expect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.backend.conftest import make_reading, make_session


@pytest.mark.django_db
def test_patient_starts_and_ends_a_session(patient, client_for):  # type: ignore[no-untyped-def]
    client = client_for(patient)
    created = client.post("/api/sessions", {"goal": "uplift", "notes": "rainy day"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["goal"], body["is_active"], body["patient"]) == ("uplift", True, patient.pk)
    ended = client.post(f"/api/sessions/{body['id']}/end").json()
    assert ended["is_active"] is False and ended["ended_at"] is not None


@pytest.mark.django_db
def test_unknown_goal_is_a_400(patient, client_for):  # type: ignore[no-untyped-def]
    response = client_for(patient).post("/api/sessions", {"goal": "euphoria"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("goal:")


@pytest.mark.django_db
def test_readings_filter_by_time_and_paginate(patient, client_for):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    base = session.started_at
    for i in range(5):
        make_reading(session, captured_at=base + timedelta(seconds=i))
    client = client_for(patient)
    since = (base + timedelta(seconds=2)).isoformat()
    response = client.get(f"/api/sessions/{session.pk}/readings", {"since": since})
    got = response.json()
    assert got["count"] == 2
    assert [r["probabilities"]["happy"] for r in got["results"]] == [0.7, 0.7]
    page = client.get(f"/api/sessions/{session.pk}/readings", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]


@pytest.mark.django_db
def test_bad_since_parameter_is_a_clear_400(patient, client_for):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    response = client_for(patient).get(
        f"/api/sessions/{session.pk}/readings", {"since": "yesterday"}
    )
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_checkin_before_and_after_and_out_of_range_values(patient, client_for):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    client = client_for(patient)
    ok = client.post(
        "/api/checkins",
        {
            "session": session.pk,
            "phase": "before",
            "valence": -0.5,
            "arousal": 0.2,
            "word": "tense",
        },
        format="json",
    )
    assert ok.status_code == 201
    replaced = client.post(
        "/api/checkins",
        {"session": session.pk, "phase": "before", "valence": -0.3, "arousal": 0.1},
        format="json",
    )
    assert replaced.status_code == 201
    assert client.get("/api/checkins", {"session": session.pk}).json()["count"] == 1
    bad = client.post(
        "/api/checkins",
        {"session": session.pk, "phase": "after", "valence": 3, "arousal": 0},
        format="json",
    )
    assert bad.status_code == 400


@pytest.mark.django_db
def test_therapist_edits_therapist_notes_but_not_goal(patient, therapist, client_for):  # type: ignore[no-untyped-def]
    session = make_session(patient, goal="calm")
    client = client_for(therapist)
    url = f"/api/sessions/{session.pk}"
    response = client.patch(url, {"therapist_notes": "engaged"}, format="json")
    assert response.status_code == 200
    both = client.patch(url, {"therapist_notes": "x", "goal": "uplift"}, format="json")
    assert both.status_code == 403
    session.refresh_from_db()
    assert (session.therapist_notes, session.goal) == ("engaged", "calm")


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(patient, client_for):  # type: ignore[no-untyped-def]
    client = client_for(patient)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/sessions/{id}/frames" in schema.json()["paths"]
    assert client.get("/api/docs/").status_code == 200
