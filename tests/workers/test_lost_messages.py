"""No frame stuck, no raw image orphaned (real PostgreSQL, Redis and worker processes):

- the broker loses every queued message (the queue is emptied before any worker runs);
- the web process dies between committing a frame and publishing its message;
- a worker dies after deleting a frame's image, before committing the result.

In each case every frame ends final exactly once, and no file under the media root lacks a row.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db.models import Count

from backend.therapy import services
from backend.therapy.models import EmotionReading, Frame, TherapySession
from backend.therapy.uploads import validate_image
from tests.conftest import ROOT
from tests.reliability.report import record
from tests.workers import support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _env(services_env: dict[str, str], media: Path, **extra: str) -> dict[str, str]:
    return {
        **services_env,
        "MEDIA_ROOT": str(media),
        "WORKER_TASK_TIME_LIMIT": "4",  # claim lease 9 s
        "FRAME_RESEND_AFTER_SECONDS": "10",
        **extra,
    }


def _readings_per_frame(frame_ids: list[int]) -> dict[int, int]:
    return dict(
        EmotionReading.objects.filter(frame_id__in=frame_ids)
        .values_list("frame_id")
        .annotate(n=Count("id"))
    )


def _report(name: str, fault: str, frame_ids: list[int], orphans: list[str]) -> None:
    """A row of `make reliability`'s fault table (written only when it collects them)."""
    statuses = dict(Frame.objects.filter(pk__in=frame_ids).values_list("pk", "status"))
    per_frame = _readings_per_frame(frame_ids)
    done = [f for f, s in statuses.items() if s == "done"]
    report = {
        "scenario": name,
        "fault": {"injected": fault},
        "users_saw": {"sent": len(frame_ids)},
        "accepted": len(frame_ids),
        "statuses": {s: list(statuses.values()).count(s) for s in set(statuses.values())},
        "lost": sum(1 for f in frame_ids if statuses.get(f) not in ("done", "no_face", "failed")),
        "duplicated": sum(1 for f in done if per_frame.get(f, 0) > 1),
        "unreferenced_files": len(orphans),
    }
    report["survived"] = not (report["lost"] or report["duplicated"] or orphans)
    record(f"fault-{name}", report)


def _files_without_a_row(media: Path, session: TherapySession) -> list[str]:
    """Files of this session's folder that no frame row names (the media root is shared)."""
    named = set(Frame.objects.exclude(image="").values_list("image", flat=True))
    folder = media / "frames" / str(session.pk)
    files = [str(p.relative_to(media)) for p in folder.rglob("*") if p.is_file()]
    return sorted(set(files) - named)


def test_frames_whose_messages_the_broker_lost_are_analysed_exactly_once(
    services_env, shared_media, tmp_path, patient, test_queues
):
    session = TherapySession.objects.create(patient=patient)
    image = validate_image(support.face_jpeg())
    frame_ids = [services.accept_frame(session=session, image=image).pk for _ in range(4)]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.llen(test_queues["frames"]) == 4
    broker.delete(test_queues["frames"])  # the broker lost them all (FLUSHDB of this queue)

    env = _env(services_env, shared_media)
    queues = f"{test_queues['frames']},{test_queues['light']}"
    worker = support.worker(env, tmp_path / "w.log", queues, "lost1").start()
    try:
        statuses = support.wait_final(frame_ids, timeout=90)
    finally:
        worker.stop()
    _report("broker_queue_emptied", "every queued message deleted before any worker ran",
            frame_ids, _files_without_a_row(shared_media, session))  # fmt: skip
    assert set(statuses.values()) == {"done"}
    assert _readings_per_frame(frame_ids) == {f: 1 for f in frame_ids}
    assert "re-sent a queued frame whose message was lost" in worker.output()


_CRASH_AFTER_COMMIT = """
import django, sys
django.setup()
from backend.accounts.models import User
from backend.therapy import services
from backend.therapy.models import TherapySession
from backend.therapy.uploads import validate_image
from tests.workers import support
session = TherapySession.objects.get(pk=int(sys.argv[1]))
services.accept_frame(session=session, image=validate_image(support.face_jpeg()))
print("published")  # never reached: FAULT_POINTS=before_publish ends the process first
"""


def test_a_frame_committed_by_a_process_that_died_before_publishing_still_completes(
    services_env, shared_media, tmp_path, patient, test_queues
):
    session = TherapySession.objects.create(patient=patient)
    env = _env(services_env, shared_media, FAULT_POINTS="before_publish")
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_COMMIT, str(session.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    [frame_id] = Frame.objects.filter(session=session).values_list("pk", flat=True)

    env = _env(services_env, shared_media)
    queues = f"{test_queues['frames']},{test_queues['light']}"
    worker = support.worker(env, tmp_path / "w.log", queues, "lost2").start()
    try:
        assert support.wait_final([frame_id], timeout=90) == {frame_id: "done"}
    finally:
        worker.stop()
    _report("crash_between_commit_and_publish", "FAULT_POINTS=before_publish in the uploader",
            [frame_id], _files_without_a_row(shared_media, session))  # fmt: skip
    assert _readings_per_frame([frame_id]) == {frame_id: 1}


def test_a_worker_killed_between_deleting_the_image_and_committing_leaves_no_orphan(
    services_env, shared_media, tmp_path, patient, test_queues
):
    session = TherapySession.objects.create(patient=patient)
    frame = services.accept_frame(session=session, image=validate_image(support.face_jpeg()))
    queues = f"{test_queues['frames']},{test_queues['light']}"
    doomed = support.worker(
        _env(services_env, shared_media, FAULT_POINTS="after_image_deleted"),
        tmp_path / "w1.log",
        queues,
        "doomed",
    ).start()
    try:
        doomed.proc.wait(timeout=90)  # type: ignore[union-attr]
    finally:
        doomed.stop()
    assert "fault point after_image_deleted reached" in doomed.output()
    assert _files_without_a_row(shared_media, session) == []  # deleted first: nothing to orphan
    assert not EmotionReading.objects.filter(frame=frame).exists()

    second = support.worker(_env(services_env, shared_media), tmp_path / "w2.log", queues, "heir")
    second.start()
    try:
        assert support.wait_final([frame.pk], timeout=90) == {frame.pk: "failed"}
    finally:
        second.stop()
    _report("worker_killed_between_image_delete_and_commit",
            "FAULT_POINTS=after_image_deleted in the worker",
            [frame.pk], _files_without_a_row(shared_media, session))  # fmt: skip
    frame.refresh_from_db()
    assert "image missing" in frame.error and frame.image.name == ""
    assert not EmotionReading.objects.filter(frame=frame).exists()
    assert _files_without_a_row(shared_media, session) == []
