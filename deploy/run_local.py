"""`make run`: serve the app on http://127.0.0.1:8000 and run one Celery worker beside it.

Embedded defaults (no DATABASE_URL / REDIS_URL): SQLite and kombu's filesystem transport
under var/. Ctrl-C stops both processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM/SIGHUP stop the children just like Ctrl-C


def main() -> int:
    # SIGINT too, explicitly: a process started in the background by a non-interactive shell
    # inherits SIGINT ignored, and Python then leaves it ignored, so Ctrl-C (or a test's
    # SIGINT) would not reach us and the web server and worker would be left running.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    host = os.environ.get("RUN_ADDR", "127.0.0.1:8000")
    worker = subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--pool=solo",
            "-Q",
            # the same queue names the web process sends to (settings defaults)
            f"{os.environ.get('CELERY_FRAMES_QUEUE', 'frames')},"
            f"{os.environ.get('CELERY_LIGHT_QUEUE', 'light')}",
            "--hostname=local@%h",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    web = subprocess.Popen(
        [PY, "manage.py", "runserver", "--noreload", host],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    print(f"MoodTune: http://{host}/  (Ctrl-C stops the web server and the worker)", flush=True)
    procs = [web, worker]
    try:
        while all(p.poll() is None for p in procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[0].wait(timeout=1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
