"""The report endpoints' documented payloads (backend/reports/schemas.py, in the OpenAPI
schema) match what they really send: real responses validate against them, key for key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.catalogue import services as catalogue
from backend.recommendations.models import TrackFeedback
from backend.reports import schemas
from tests.backend.conftest import assert_documented, make_checkin, make_reading, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(patient: Any) -> Any:
    session = make_session(
        patient,
        started_at=timezone.now() - timedelta(days=3, minutes=30),
        ended_at=timezone.now() - timedelta(days=3),
    )
    for minutes, valence in ((25, -0.4), (15, 0.1), (5, 0.5)):
        make_reading(
            session,
            captured_at=session.ended_at - timedelta(minutes=minutes),
            valence=valence,
        )
    make_checkin(session, "before")
    make_checkin(session, "after")
    track = catalogue.create_track(
        external_id="s1", title="Calm", artist="A", duration_ms=200_000,
        valence=0.3, energy=0.2, danceability=0.3, acousticness=0.8, instrumentalness=0.9,
        speechiness=0.03, liveness=0.1, loudness=-12.0, tempo=70.0, mode=1, key=2,
    )  # fmt: skip
    TrackFeedback.objects.create(
        session=session, patient=patient, track=track, kind="played", valence=0.2, arousal=-0.1
    )
    return session


def test_the_session_report_is_what_its_schema_says(therapist, history, client_for):
    payload = client_for(therapist).get(f"/api/reports/sessions/{history.pk}").json()
    assert payload["tracks"] and payload["timeline"]
    assert_documented(schemas.SessionReport, payload)


def test_the_trend_is_what_its_schema_says(therapist, patient, history, client_for):
    payload = client_for(therapist).get(f"/api/reports/patients/{patient.pk}/trend").json()
    assert any(b["readings"] for b in payload["buckets"])
    assert_documented(schemas.PatientTrendReport, payload)


def test_the_caseload_is_what_its_schema_says(therapist, history, client_for):
    payload = client_for(therapist).get("/api/reports/caseload").json()
    assert payload["patients"][0]["last_session"] is not None
    assert_documented(schemas.CaseloadReport, payload)


def test_the_openapi_schema_describes_the_report_keys(client_for, patient):
    schema = client_for(patient).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    assert {"SessionReport", "PatientTrendReport", "CaseloadReport", "EmotionShares"} <= set(
        components
    )
    assert "within_session_change" in components["Bucket"]["properties"]
