"""The container entrypoints run here under plain Python: the web start-up steps (migrate,
check, collectstatic) against SQLite in a temporary VAR_DIR, in development and production
mode; a clear failure when the database is unreachable; and the real ASGI server, started
by deploy/serve.py, answering the web health check."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

ENTRYPOINT = ROOT / "deploy" / "entrypoint.py"
PRODUCTION = {
    "DJANGO_ENV": "production",
    "ALLOWED_HOSTS": "moodtune.test",
    "SECRET_KEY": "a-long-random-production-secret-used-only-by-this-test-0123456789",
}


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ENV", "DEBUG", "SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", DB_WAIT_SECONDS="2", **extra)
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _applied_migrations(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations")}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["development", "production"])
def test_web_start_up_migrates_checks_and_collects_static(mode: str, tmp_path: Path) -> None:
    extra = PRODUCTION if mode == "production" else {}
    done = _run("web", "--prepare-only", env=_env(tmp_path, **extra))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "web: start-up steps done" in done.stderr
    applied = _applied_migrations(tmp_path / "db.sqlite3")
    assert "accounts.0002_login_failure" in applied
    assert any(m.startswith("therapy.") for m in applied)
    assert (tmp_path / "static" / "admin").is_dir(), "collectstatic filled STATIC_ROOT"
    again = _run("web", "--prepare-only", env=_env(tmp_path, **extra))
    assert again.returncode == 0, "a restart re-runs the steps harmlessly"


def test_production_start_up_refuses_a_missing_secret(tmp_path: Path) -> None:
    env = _env(tmp_path, DJANGO_ENV="production", ALLOWED_HOSTS="moodtune.test")
    done = _run("web", "--prepare-only", env=env)
    assert done.returncode != 0
    assert "SECRET_KEY is required" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists() or not _applied_migrations(
        tmp_path / "db.sqlite3"
    )


def test_start_up_fails_clearly_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:9/moodtune_absent")
    started = time.monotonic()
    done = _run("worker", "--prepare-only", env=env)
    assert done.returncode != 0
    assert "database unreachable after 2s" in done.stderr
    assert time.monotonic() - started < 60


def test_worker_start_up_checks_and_names_a_worker_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = _run("worker", "--prepare-only", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import entrypoint
    finally:
        sys.path.pop(0)
    monkeypatch.delenv("ML_DEVICE", raising=False)
    monkeypatch.delenv("WORKER_POOL", raising=False)
    command = entrypoint.server_command("worker")
    assert command[1:5] == ["-m", "celery", "-A", "workers.app"]
    assert (ROOT / "workers" / "app.py").is_file()
    assert command[command.index("--queues") + 1] == "frames,light"
    assert command[command.index("--pool") + 1] == "prefork"
    monkeypatch.setenv("ML_DEVICE", "cuda")
    gpu = entrypoint.server_command("worker")
    assert gpu[gpu.index("--pool") + 1] == "solo", "one solo process per GPU"
    web = entrypoint.server_command("web")
    assert Path(web[1]).name == "serve.py" and Path(web[1]).is_file()


def test_manage_role_runs_management_commands(tmp_path: Path) -> None:
    done = _run("manage", "purge_frames", "--help", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--dry-run" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_asgi_server_with_the_deploy_settings_serves_and_passes_the_healthcheck(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = _env(tmp_path, **PRODUCTION, WEB_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    assert _run("web", "--prepare-only", env=env).returncode == 0
    healthcheck = [sys.executable, str(ROOT / "deploy" / "healthcheck.py"), "web"]
    assert subprocess.run(healthcheck, env=env, timeout=30).returncode == 1, "nothing serves yet"
    server = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), "web"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(healthcheck, env=env, timeout=30).returncode != 0:
            assert server.poll() is None, server.stderr.read()[-3000:] if server.stderr else ""
            assert time.monotonic() < deadline, "the web server did not become healthy in 60 s"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.stderr is not None and "Uvicorn running on" in server.stderr.read()
