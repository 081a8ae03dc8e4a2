"""`make run`'s web part boots on the embedded defaults (SQLite under VAR_DIR, no services)
and a demo account can log in over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_embedded_mode_serves_and_demo_login_works(tmp_path):  # type: ignore[no-untyped-def]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ENV")
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    py = sys.executable
    for args in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [py, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    assert "demo-patient-pass" in done.stdout  # credentials are printed for the user
    assert (tmp_path / "var" / "db.sqlite3").exists()

    port = _free_port()
    server = subprocess.Popen(
        [py, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # any HTTP answer (here 401/403 for anonymous) means the server is up
            try:
                urllib.request.urlopen(base + "/api/me", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        request = urllib.request.Request(
            base + "/api/auth/login",
            data=json.dumps({"username": "patient", "password": "demo-patient-pass"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert body["user"]["role"] == "patient"
        me = urllib.request.Request(
            base + "/api/me", headers={"Authorization": f"Token {body['token']}"}
        )
        with urllib.request.urlopen(me, timeout=10) as response:
            assert json.loads(response.read())["username"] == "patient"
    finally:
        server.terminate()
        server.wait(timeout=10)
