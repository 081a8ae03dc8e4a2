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
    assert events[2][2] == {"last_event_id": reading.pk, "reconnect": True, "reason": "time"}


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

    settings.LIVE_STREAM_SECONDS = 300
    assert stream_seconds("3600") == 300
    assert stream_seconds(None) == 300
    assert stream_seconds("2") == 2
    assert stream_seconds(None, limit=25) == 25  # a WSGI stream holds its thread: kept short


def test_each_user_may_hold_only_so_many_streams(patient, client_for, settings):
    settings.LIVE_MAX_STREAMS_PER_USER = 2
    session = make_session(patient)
    client = client_for(patient)
    open_streams = [_stream(client, session.pk) for _ in range(2)]  # not read yet: still open
    refused = _stream(client, session.pk)
    assert refused.status_code == 429
    assert b"event: error" in refused.content and b"too_many_streams" in refused.content
    for response in open_streams:
        _events(response)  # read to the end: the stream closes and frees its slot
    assert _stream(client, session.pk).status_code == 200


def _cursor(session, viewer):
    from backend.therapy.live import EventCursor, acquire_slot

    return EventCursor(
        session_id=session.pk,
        patient_id=session.patient_id,
        viewer_id=viewer.pk,
        after_id=0,
        slot=acquire_slot(viewer.pk),
    )


def test_a_therapists_stream_ends_when_the_assignment_ends(patient, therapist, admin_user):
    from backend.accounts import services as account_services
    from backend.accounts.models import Assignment

    session = make_session(patient)
    cursor = _cursor(session, therapist)
    assert cursor.poll(recheck_access=True)[1] is False
    assignment = Assignment.objects.get(therapist=therapist, patient=patient)
    account_services.end_assignment(assignment=assignment, actor=admin_user)
    chunks, ended = cursor.poll(recheck_access=True)
    assert ended and '"reason":"access_ended"' in chunks[-1] and '"reconnect":false' in chunks[-1]


def test_a_patients_stream_ends_when_consent_is_withdrawn_or_the_session_is_gone(patient):
    from backend.accounts import services as account_services

    session = make_session(patient)
    cursor = _cursor(session, patient)
    account_services.withdraw_consent(patient=patient)
    chunks, ended = cursor.poll(recheck_access=True)
    assert ended and '"reason":"access_ended"' in chunks[-1]

    account_services.grant_consent(patient=patient)
    other = make_session(patient)
    cursor = _cursor(other, patient)
    other.delete()
    chunks, ended = cursor.poll(recheck_access=False)
    assert ended and '"reason":"session_gone"' in chunks[-1]


@pytest.mark.django_db(transaction=True)
def test_the_async_stream_sends_the_same_events_without_a_thread_of_its_own(patient):
    import asyncio
    import concurrent.futures

    from django.db import transaction

    from backend.therapy import live

    session = make_session(patient)
    reading = make_reading(session)
    with transaction.atomic():
        analysis.update_mood(session_id=session.pk)
    cursor = _cursor(session, patient)

    async def collect() -> str:
        return "".join([chunk async for chunk in live.async_events(cursor, seconds=0.5)])

    # a loop of our own in a thread of its own (the browser tests' driver may run one here)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        text = pool.submit(asyncio.run, collect()).result(timeout=60)
    names = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    assert names == ["reading", "mood", "end"]
    assert f"id: {reading.pk}" in text


def test_streams_opened_together_keep_alive_at_different_moments(patient):
    """Each stream's periodic look (keep-alive, access re-check) has a phase of its own, so
    that streams opened in the same instant do not all query the database in the same instant
    every period; no stream waits longer than the keep-alive period."""
    from backend.therapy.live import KEEPALIVE_SECONDS

    session = make_session(patient)
    waits = []
    for _ in range(20):
        cursor = _cursor(session, patient)
        cursor.start(600)
        out, wait = cursor.pace([], ended=False)
        assert out == [] and wait is not None
        waits.append(wait)
    assert all(KEEPALIVE_SECONDS / 2 - 0.1 <= w <= KEEPALIVE_SECONDS for w in waits)
    assert max(waits) - min(waits) > KEEPALIVE_SECONDS / 10  # spread, not one instant
    cursor.last_sent -= KEEPALIVE_SECONDS  # the period has passed: a keep-alive, then a full wait
    out, wait = cursor.pace([], ended=False)
    assert out == [": keepalive\n\n"] and wait == pytest.approx(KEEPALIVE_SECONDS, abs=0.1)
