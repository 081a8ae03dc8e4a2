"""Redis goes away mid-run: uploads answer 202 or a clear 503, and nothing accepted is lost.

Runs on a private redis-server (own port, append-only file so a restart keeps its messages),
with the production web server and a worker pointed at it; the shared Redis is never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.db.models import Count
from rest_framework.authtoken.models import Token

from backend.therapy.models import EmotionReading, Frame, TherapySession
from tests.workers import support

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def _redis(port: int, folder: Path) -> None:
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(folder),
            "--daemonize",
            "yes",
            "--pidfile",
            str(folder / "redis.pid"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
        != b"PONG\n"
    ):
        assert time.monotonic() < deadline, "private redis did not start"
        time.sleep(0.1)


def _redis_down(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown"], capture_output=True)
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0
    ):
        assert time.monotonic() < deadline, "private redis did not stop"
        time.sleep(0.1)


def test_uploads_during_a_broker_outage_get_503_and_every_accepted_frame_is_analysed(
    services_env, shared_media, tmp_path, patient, test_queues
):
    port, web_port = support.free_port(), support.free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    env = {
        **services_env,
        "MEDIA_ROOT": str(shared_media),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "WORKER_VISIBILITY_TIMEOUT": "5",
    }
    _redis(port, tmp_path)
    queues = f"{test_queues['frames']},{test_queues['light']}"
    worker = support.worker(env, tmp_path / "worker.log", queues, "outage").start()
    web = support.web(env, tmp_path / "web.log", web_port).start()
    session = TherapySession.objects.create(patient=patient)
    token = Token.objects.create(user=patient)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{web_port}",
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
    )

    def upload() -> httpx.Response:
        files = {"image": ("f.jpg", support.face_jpeg(), "image/jpeg")}
        return client.post(f"/api/sessions/{session.pk}/frames", files=files)

    try:
        worker.wait_for_output("ready.")
        support.wait_listening(web, web_port)
        accepted = []
        for phase in ("before", "during", "after"):
            if phase == "during":
                _redis_down(port)
            if phase == "after":
                _redis(port, tmp_path)
            for _ in range(3):
                response = upload()
                if phase == "during":
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "broker_unavailable"
                else:
                    assert response.status_code == 202, response.text
                    accepted.append(response.json()["id"])

        statuses = support.wait_final(accepted, timeout=90)
    finally:
        client.close()
        web.stop()
        worker.stop()
        _redis_down(port)

    assert set(statuses.values()) == {"done"}
    assert Frame.objects.filter(session=session).count() == len(accepted)  # 503s left no rows
    per_frame = dict(
        EmotionReading.objects.filter(session=session).values_list("frame").annotate(n=Count("id"))
    )
    assert per_frame == {frame_id: 1 for frame_id in accepted}
    leftovers = list((Path(shared_media) / "frames" / str(session.pk)).glob("*.jpg"))
    assert leftovers == []  # refused uploads left no files (analysed ones were deleted)
