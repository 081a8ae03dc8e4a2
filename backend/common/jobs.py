"""Task names and enqueue(): the backend knows worker tasks only by name.

Tasks are sent after the surrounding transaction commits, so a worker never reads a row
that is not there yet (and a rolled-back request enqueues nothing).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

ANALYSE_FRAME = "analyse_frame"
REFRESH_RECOMMENDATIONS = "refresh_recommendations"
LEARN_FROM_SESSION = "learn_from_session"

# Which queue each task goes to: heavy ML work and light bookkeeping scale separately.
QUEUE_SETTINGS: dict[str, str] = {
    ANALYSE_FRAME: "CELERY_FRAMES_QUEUE",
    REFRESH_RECOMMENDATIONS: "CELERY_LIGHT_QUEUE",
    LEARN_FROM_SESSION: "CELERY_LIGHT_QUEUE",
}


def queue_for(name: str) -> str:
    return str(getattr(settings, QUEUE_SETTINGS[name]))


class BrokerUnavailable(Exception):
    """The broker could not take the message (after a short, bounded retry)."""


# Publishing gives up after ~0.5 s of retries: an upload should fail fast with a clear 503
# rather than hang while the broker is down.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.3}


def send_now(name: str, *args: Any) -> None:
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    from backend.config.celery import app

    queue = queue_for(name)
    try:
        result = app.send_task(name, args=list(args), queue=queue, retry_policy=PUBLISH_RETRY)
    except (OperationalError, RedisError, OSError) as exc:
        logger.error("enqueue failed task=%s args=%s queue=%s: %s", name, args, queue, exc)
        raise BrokerUnavailable(f"broker unavailable: {exc}") from exc
    logger.info("enqueued task=%s id=%s args=%s queue=%s", name, result.id, args, queue)


def enqueue(name: str, *args: Any) -> None:
    """Send task `name` with JSON-serialisable `args` once the current transaction commits."""
    if name not in QUEUE_SETTINGS:
        raise ValueError(f"unknown task name {name!r}")
    transaction.on_commit(lambda: _publish(name, *args))


def enqueue_best_effort(name: str, *args: Any) -> None:
    """enqueue() for bookkeeping that a later run makes up for: when the broker cannot take
    the message it is logged, not raised (the request or the frame it follows still counts)."""
    if name not in QUEUE_SETTINGS:
        raise ValueError(f"unknown task name {name!r}")
    transaction.on_commit(lambda: _send_or_log(name, *args))


def _send_or_log(name: str, *args: Any) -> None:
    try:
        send_now(name, *args)
    except BrokerUnavailable as exc:
        logger.warning("task not queued task=%s args=%s: %s", name, args, exc)


def _publish(name: str, *args: Any) -> None:
    from backend.common.faults import fault_point

    fault_point("before_publish")  # the row is committed, its message not yet sent
    send_now(name, *args)
