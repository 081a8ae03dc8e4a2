"""GET /api/sessions/{id}/events: new readings and mood as server-sent events, resumable."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from backend.therapy import analysis
from tests.backend.conftest import make_reading, make_session

pytestmark = pytest.mark.django_db


def _events(response) -> list[tuple[str | None, str, dict]]:
    """(id, event name, data) for every event in a finished stream."""
    text = b"".join(response.streaming_content).decode()
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return events


def _stream(client, session_id: int, **headers):
    return client.get(
        f"/api/sessions/{session_id}/events?seconds=0.5",
        HTTP_ACCEPT="text/event-stream",
        **headers,
    )


def test_stream_sends_recent_readings_then_the_mood_then_an_end_marker(patient, client_for):
    session = make_session(patient)
    reading = make_reading(session)
    analysis.update_mood(session_id=session.pk)

    response = _stream(client_for(patient), session.pk)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = _events(response)
    assert [name for _, name, _ in events] == ["reading", "mood", "end"]
    assert events[0][0] == str(reading.pk) and events[0][2]["emotion"] == "happy"
    assert events[1][2]["valence"] == pytest.approx(0.5)
    assert events[2][2] == {"last_event_id": reading.pk, "reconnect": True}


def test_last_event_id_resumes_after_the_readings_already_seen(patient, client_for):
    session = make_session(patient)
    seen = make_reading(session, face_index=0)
    new = make_reading(session, face_index=1, captured_at=timezone.now())

    events = _events(_stream(client_for(patient), session.pk, HTTP_LAST_EVENT_ID=str(seen.pk)))

    assert [event_id for event_id, name, _ in events if name == "reading"] == [str(new.pk)]


def test_therapist_of_the_patient_can_follow_the_session(patient, therapist, client_for):
    session = make_session(patient)
    make_reading(session)

    events = _events(_stream(client_for(therapist), session.pk))

    assert [name for _, name, _ in events] == ["reading", "end"]  # no mood computed yet


def test_malformed_last_event_id_is_a_400(patient, client_for):
    session = make_session(patient)

    response = client_for(patient).get(
        f"/api/sessions/{session.pk}/events", HTTP_LAST_EVENT_ID="yesterday"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_stream_length_is_capped_by_the_server(settings):
    from backend.therapy.live import stream_seconds

    settings.LIVE_STREAM_SECONDS = 25
    assert stream_seconds("3600") == 25
    assert stream_seconds(None) == 25
    assert stream_seconds("2") == 2
