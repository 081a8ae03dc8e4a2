"""A stuck analysis never holds a frame forever, in either pool the deployment uses (real
PostgreSQL, Redis and worker processes; the hang is injected with FAULT_POINTS):

- prefork (CPU workers): Celery's soft time limit interrupts the task, the frame ends
  `failed` with the reason, and the pool lives on to analyse the next frame;
- solo (GPU workers, where Celery enforces no time limit): the watchdog ends the process past
  WORKER_TASK_TIME_LIMIT, and another worker takes the frame over when its lease expires.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backend.therapy import services
from backend.therapy.models import EmotionReading, Frame, TherapySession
from backend.therapy.uploads import validate_image
from tests.workers import support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _env(services_env: dict[str, str], media: Path, **extra: str) -> dict[str, str]:
    return {**services_env, "MEDIA_ROOT": str(media), "WORKER_TASK_TIME_LIMIT": "3", **extra}


def test_prefork_time_limit_fails_a_stuck_frame_and_the_pool_goes_on(
    services_env, shared_media, tmp_path, patient, test_queues
):
    session = TherapySession.objects.create(patient=patient)
    image = validate_image(support.face_jpeg())
    queues = f"{test_queues['frames']},{test_queues['light']}"
    stuck = services.accept_frame(session=session, image=image)
    hung = support.worker(
        _env(services_env, shared_media, FAULT_POINTS="hang_in_analysis"),
        tmp_path / "w1.log",
        queues,
        "prefork-hang",
        pool="prefork",
    ).start()
    try:
        assert support.wait_final([stuck.pk], timeout=90) == {stuck.pk: "failed"}
        assert hung.proc is not None and hung.proc.poll() is None, "the pool survived"
    finally:
        hung.stop()
    stuck.refresh_from_db()
    assert "TimeLimitExceeded" in stuck.error

    healthy = support.worker(
        _env(services_env, shared_media), tmp_path / "w2.log", queues, "prefork", pool="prefork"
    ).start()
    try:
        fresh = services.accept_frame(session=session, image=image)
        assert support.wait_final([fresh.pk], timeout=90) == {fresh.pk: "done"}
    finally:
        healthy.stop()
    assert EmotionReading.objects.filter(frame=fresh).count() == 1


def test_the_solo_watchdog_ends_a_stuck_worker_and_another_takes_the_frame_over(
    services_env, shared_media, tmp_path, patient, test_queues
):
    session = TherapySession.objects.create(patient=patient)
    frame = services.accept_frame(session=session, image=validate_image(support.face_jpeg()))
    queues = f"{test_queues['frames']},{test_queues['light']}"
    hung = support.worker(
        _env(services_env, shared_media, FAULT_POINTS="hang_in_analysis"),
        tmp_path / "w1.log",
        queues,
        "solo-hang",
    ).start()
    try:
        assert hung.proc is not None
        code = hung.proc.wait(timeout=120)  # nobody stops it: the watchdog does
    except subprocess.TimeoutExpired:
        pytest.fail("the hung solo worker was never stopped:\n" + hung.output()[-2000:])
    finally:
        hung.stop()
    assert code == 70 and "watchdog: task" in hung.output()
    assert Frame.objects.get(pk=frame.pk).status == "processing"

    heir = support.worker(_env(services_env, shared_media), tmp_path / "w2.log", queues, "heir")
    heir.start()
    try:
        assert support.wait_final([frame.pk], timeout=120) == {frame.pk: "done"}
    finally:
        heir.stop()
    assert EmotionReading.objects.filter(frame=frame).count() == 1
