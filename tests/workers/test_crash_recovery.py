"""kill -9 of a worker that holds frames: after a restart every frame ends exactly once.

The dead worker's claims are fenced: its unacknowledged message comes back (visibility
timeout), and frames it had claimed into its batch are taken over when their lease expires.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from backend.therapy import services
from backend.therapy.models import EmotionReading, Frame, TherapySession
from backend.therapy.uploads import validate_image
from tests.workers import support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _crash_env(services_env: dict[str, str], media: Path) -> dict[str, str]:
    return {
        **services_env,
        "MEDIA_ROOT": str(media),
        "WORKER_BATCH_SIZE": "4",
        "WORKER_TASK_TIME_LIMIT": "4",  # claim lease 9 s
        "WORKER_VISIBILITY_TIMEOUT": "3",
    }


def test_frames_held_by_a_killed_worker_end_exactly_once_after_restart(
    services_env, shared_media, tmp_path, patient, test_queues
):
    env = _crash_env(services_env, shared_media)
    queues = f"{test_queues['frames']},{test_queues['light']}"
    first = support.worker(env, tmp_path / "w1.log", queues, "crash1").start()
    first.wait_for_output("ready.")
    session = TherapySession.objects.create(patient=patient)
    image = validate_image(support.face_jpeg())
    frame_ids = [services.accept_frame(session=session, image=image).pk for _ in range(12)]

    deadline = time.monotonic() + 60
    while not Frame.objects.filter(pk__in=frame_ids, status="processing").exists():
        assert time.monotonic() < deadline, "the worker never claimed a frame"
        time.sleep(0.01)
    first.kill9()
    held = Frame.objects.filter(pk__in=frame_ids, status="processing").count()
    unfinished = Frame.objects.filter(pk__in=frame_ids).exclude(status="done").count()

    second = support.worker(env, tmp_path / "w2.log", queues, "crash2").start()
    try:
        statuses = support.wait_final(frame_ids, timeout=90)
    finally:
        second.stop()

    assert held >= 1 and unfinished >= 1  # the kill really interrupted work
    assert set(statuses.values()) == {"done"}
    per_frame = dict(
        EmotionReading.objects.filter(frame_id__in=frame_ids)
        .values_list("frame_id")
        .annotate(n=Count("id"))
    )
    assert per_frame == {frame_id: 1 for frame_id in frame_ids}


def test_requeue_stuck_frames_rescues_frames_whose_messages_were_lost(running_worker, patient):
    session = TherapySession.objects.create(patient=patient)
    # No message for either: one still queued (a broker restart lost it), one left
    # 'processing' by a worker that died long ago.
    lost = _frame_without_message(session)
    abandoned = _frame_without_message(session)
    Frame.objects.filter(pk=abandoned.pk).update(
        status="processing", claimed_at=timezone.now() - timedelta(hours=1)
    )

    call_command("requeue_stuck_frames", "--older-than", "0")

    assert support.wait_final([lost.pk, abandoned.pk]) == {lost.pk: "done", abandoned.pk: "done"}
    assert EmotionReading.objects.filter(frame__in=[lost.pk, abandoned.pk]).count() == 2


def _frame_without_message(session: TherapySession) -> Frame:
    name = default_storage.save(
        f"frames/{session.pk}/{uuid.uuid4().hex}.jpg", ContentFile(support.face_jpeg())
    )
    return Frame.objects.create(
        session=session, image=name, content_hash="0" * 64, width=640, height=480
    )
