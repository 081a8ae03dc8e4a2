"""Hang protection where Celery's time limits do not apply.

The prefork pool (CPU workers) enforces `task_time_limit` by killing the child, and
`task_soft_time_limit` by raising SoftTimeLimitExceeded in the task. The solo pool (GPU
workers: one process per GPU, CUDA never forked) enforces neither, yet the claim lease assumes
no task outlives WORKER_TASK_TIME_LIMIT. So in a solo or threads worker this watchdog thread
ends the whole process (exit 70; the container's restart policy brings it back) when a task
runs past the limit: its frames are then taken over by the others once their lease expires.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

logger = logging.getLogger(__name__)
EXIT_CODE = 70  # EX_SOFTWARE

_running: dict[str, float] = {}  # task id -> monotonic start
_lock = threading.Lock()


@task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    with _lock:
        _running[task_id or "?"] = time.monotonic()


@task_postrun.connect
def _task_ended(task_id: str | None = None, **_: Any) -> None:
    with _lock:
        _running.pop(task_id or "?", None)


def overdue(limit_seconds: float, now: float | None = None) -> list[tuple[str, float]]:
    """(task id, seconds running) of the tasks running longer than the limit."""
    now = time.monotonic() if now is None else now
    with _lock:
        return [(t, now - start) for t, start in _running.items() if now - start > limit_seconds]


def start(limit_seconds: float, *, stop: threading.Event) -> threading.Thread:
    def watch() -> None:
        while not stop.wait(1.0):
            late = overdue(limit_seconds)
            if late:
                task_id, seconds = late[0]
                logger.critical(
                    "watchdog: task %s has run %.0fs, past WORKER_TASK_TIME_LIMIT=%.0fs: "
                    "exiting so that its frames are taken over",
                    task_id,
                    seconds,
                    limit_seconds,
                )
                logging.shutdown()
                os._exit(EXIT_CODE)

    thread = threading.Thread(target=watch, daemon=True, name="watchdog")
    thread.start()
    return thread
