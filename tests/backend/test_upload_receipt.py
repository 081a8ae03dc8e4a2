"""The answer to an upload comes from FrameSerializer.receipt, one serializer whose fields are
built once (the hot path), not from a FrameSerializer per frame: it must be the serializer's
answer, which is the definition, in every state of a frame and in any active time zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.therapy.models import Frame
from backend.therapy.serializers import FrameSerializer
from tests.backend.conftest import image_bytes, make_session

pytestmark = pytest.mark.django_db

STATES: dict[str, dict[str, Any]] = {
    "queued": {"status": "queued"},
    "done": {"status": "done", "model_version": "fer_cnn@0123456789ab"},
    "failed": {"status": "failed", "error": "no face found"},
}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
@pytest.mark.parametrize("state", sorted(STATES))
def test_the_receipt_is_the_serializers_answer(state: str, zone: str, patient: Any) -> None:
    now = timezone.now()
    frame = Frame.objects.create(
        session=make_session(patient),
        captured_at=now - timedelta(seconds=3, microseconds=1234),
        content_hash="0" * 64,
        width=640,
        height=480,
        processed_at=None if state == "queued" else now,
        **STATES[state],
    )
    frame.refresh_from_db()
    with timezone.override(zone):
        receipt = FrameSerializer.receipt(frame)
        assert receipt == FrameSerializer(frame).data
    assert set(receipt) == set(FrameSerializer.Meta.fields)


def test_an_upload_answers_with_the_frames_serialized_form(client_for: Any, patient: Any) -> None:
    from backend.accounts import services

    services.grant_consent(patient=patient)
    session = make_session(patient)
    client = client_for(patient)
    answers = [
        client.post(
            f"/api/sessions/{session.pk}/frames",
            {"image": _jpeg(), "client_frame_id": key},
            format="multipart",
        )
        for key in ("receipt-1", "receipt-2", "receipt-1")  # the third: a retry of the first
    ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    first, second, retry = (a.json() for a in answers)
    assert retry == first and second["id"] != first["id"]
    for body in (first, second):
        assert body == FrameSerializer(Frame.objects.get(pk=body["id"])).data


def _jpeg() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("frame.jpg", image_bytes(size=(96, 72)), "image/jpeg")
