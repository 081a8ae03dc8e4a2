"""A real worker subprocess turns uploaded frames into readings, live mood and final states."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.accounts import services as account_services
from backend.common import jobs
from backend.therapy.models import EmotionReading, Frame, TherapySession
from tests.workers import support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _upload(client, session: TherapySession, data: bytes) -> int:
    image = SimpleUploadedFile("f.jpg", data, content_type="image/jpeg")
    response = client.post(f"/api/sessions/{session.pk}/frames", {"image": image})
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


def _stored_frame(session: TherapySession, data: bytes) -> Frame:
    """A frame whose bytes skipped upload validation (as if the storage were tampered with)."""
    name = default_storage.save(f"frames/{session.pk}/{uuid.uuid4().hex}.jpg", ContentFile(data))
    return Frame.objects.create(
        session=session, image=name, content_hash="0" * 64, width=640, height=480
    )


def test_uploaded_face_becomes_one_primary_reading_and_updates_the_session_mood(
    running_worker, patient, client_for
):
    session = TherapySession.objects.create(patient=patient)
    client = client_for(patient)
    frame_ids = [
        _upload(client, session, support.face_jpeg(n)) for n in ("happy_0.jpg", "sad_1.jpg")
    ]

    statuses = support.wait_final(frame_ids)

    assert set(statuses.values()) == {"done"}
    for frame in Frame.objects.filter(pk__in=frame_ids):
        readings = list(frame.readings.all())
        assert [(r.face_index, r.is_primary) for r in readings] == [(0, True)]
        assert readings[0].model_version and readings[0].model_version == frame.model_version
        assert abs(sum(readings[0].probabilities.values()) - 1.0) < 1e-3
        assert frame.image.name == ""  # FRAME_RETENTION=delete: only derived data is kept
    assert not list((Path(default_storage.location) / "frames").rglob("*.jpg"))
    session.refresh_from_db()
    assert session.mood_valence is not None and -1 <= session.mood_valence <= 1
    assert set(session.mood_distribution) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    listed = client.get(f"/api/sessions/{session.pk}/readings").json()
    assert listed["count"] == 2
    # the mood change asked the light queue to refresh the playlist
    running_worker.wait_for_output(f"recommendations refreshed session_id={session.pk}", 30)


def test_a_second_delivery_of_the_same_frame_writes_nothing_more(
    running_worker, patient, client_for
):
    session = TherapySession.objects.create(patient=patient)
    frame_id = _upload(client_for(patient), session, support.face_jpeg())
    support.wait_final([frame_id])

    jobs.send_now(jobs.ANALYSE_FRAME, frame_id)
    jobs.send_now(jobs.ANALYSE_FRAME, frame_id)
    marker = _upload(client_for(patient), session, support.face_jpeg("angry_0.jpg"))
    support.wait_final([marker])  # the queue is FIFO: the duplicates ran before this one

    assert EmotionReading.objects.filter(frame_id=frame_id).count() == 1
    assert Frame.objects.get(pk=frame_id).attempts == 1


def test_corrupt_image_fails_with_a_reason_and_the_worker_goes_on(
    running_worker, patient, client_for
):
    session = TherapySession.objects.create(patient=patient)
    corrupt = _stored_frame(session, b"\xff\xd8\xff\xe0 this is not really a jpeg" * 20)
    jobs.send_now(jobs.ANALYSE_FRAME, corrupt.pk)
    good = _upload(client_for(patient), session, support.face_jpeg())

    statuses = support.wait_final([corrupt.pk, good])

    assert statuses == {corrupt.pk: "failed", good: "done"}
    corrupt.refresh_from_db()
    assert corrupt.error.startswith("undecodable image")
    assert not corrupt.readings.exists()


def test_frame_of_a_patient_who_withdrew_consent_fails_and_its_image_is_deleted(
    running_worker, patient
):
    session = TherapySession.objects.create(patient=patient)
    frame = _stored_frame(session, support.face_jpeg())
    path = default_storage.path(frame.image.name)
    account_services.withdraw_consent(patient=patient)
    jobs.send_now(jobs.ANALYSE_FRAME, frame.pk)

    assert support.wait_final([frame.pk]) == {frame.pk: "failed"}
    frame.refresh_from_db()
    assert frame.error == "consent withdrawn"
    assert frame.image.name == ""
    assert not Path(path).exists()
    assert not frame.readings.exists()


def test_health_sees_the_running_worker(running_worker, client_for):
    running_worker.wait_for_output("pipeline loaded")
    body = client_for(None).get("/api/health").json()

    assert body["status"] == "ok"
    assert body["workers"]["frames"] >= 1
