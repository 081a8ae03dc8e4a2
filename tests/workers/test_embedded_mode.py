"""`make run` on a fresh machine: SQLite + filesystem broker, a demo patient sees a reading."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.workers import support

pytestmark = pytest.mark.slow


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")
        and not k.startswith(("CELERY_", "WORKER_", "PYTEST"))
    }
    return {**env, "VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "backend.config.settings"}


def test_demo_patient_uploads_a_photo_and_sees_its_reading_on_embedded_defaults(tmp_path):
    env = _embedded_env(tmp_path / "var")
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    port = support.free_port()
    env["RUN_ADDR"] = f"127.0.0.1:{port}"
    run = support.Process(
        [sys.executable, "deploy/run_local.py"], env, tmp_path / "run_local.log"
    ).start()
    try:
        run.wait_for_output("ready.", timeout=120)  # the worker is consuming
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                login = client.post(
                    "/api/auth/login",
                    json={"username": "patient", "password": "demo-patient-pass"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, run.output()[-3000:]
                time.sleep(0.3)
        assert login.status_code == 200, run.output()[-3000:]
        client.cookies.clear()  # API client: token only (a session cookie would demand CSRF)
        client.headers["Authorization"] = f"Token {login.json()['token']}"
        created = client.post("/api/sessions", json={"goal": "calm"})
        assert created.status_code == 201, created.text
        session = created.json()
        upload = client.post(
            f"/api/sessions/{session['id']}/frames",
            files={"image": ("me.jpg", support.face_jpeg(), "image/jpeg")},
        )
        assert upload.status_code == 202, upload.text

        deadline = time.monotonic() + 90
        readings: list[dict] = []
        while not readings and time.monotonic() < deadline:
            time.sleep(0.5)
            readings = client.get(f"/api/sessions/{session['id']}/readings").json()["results"]
        frame = client.get(f"/api/frames/{upload.json()['id']}").json()
    finally:
        run.stop(signal.SIGINT)  # run_local stops the web server and the worker on Ctrl-C

    assert frame["status"] == "done", run.output()[-3000:]
    assert len(readings) == 1 and readings[0]["is_primary"]
    assert readings[0]["emotion"] in readings[0]["probabilities"]
