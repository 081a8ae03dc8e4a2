"""Worker start-up: load the model in the process that runs tasks, start the heartbeat."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery.signals import worker_process_init, worker_ready, worker_shutdown

from backend.common import health
from workers import config, watchdog
from workers.model import get_pipeline

logger = logging.getLogger(__name__)
_stop = threading.Event()
_beats = [0]  # heartbeats so far (the orphan sweep runs on every Nth)
ORPHAN_SWEEP_EVERY_BEATS = 60


@worker_process_init.connect
def _load_in_child(**_: Any) -> None:
    """Prefork: each child loads its own model (never the parent: torch and fork mix badly)."""
    get_pipeline()


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    consumer = sender
    pool_module = type(consumer.pool).__module__ if consumer is not None else ""
    if not pool_module.endswith("prefork"):
        get_pipeline()  # solo/threads: tasks run in this very process
        # ...and Celery's time limits do not apply there: the watchdog enforces the hard one
        watchdog.start(config.TASK_TIME_LIMIT, stop=_stop)
    name = getattr(consumer, "hostname", None) or socket.gethostname()
    queues = [q.name for q in consumer.task_consumer.queues] if consumer is not None else []
    threading.Thread(target=_beat, args=(name, queues), daemon=True, name="heartbeat").start()


@worker_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    _stop.set()


def _beat(name: str, queues: list[str]) -> None:
    while True:
        try:
            health.write_heartbeat(worker=name, queues=queues)
        except Exception as exc:  # the broker is down: health shows it; keep trying
            logger.warning("heartbeat not written: %s", exc)
        _rescue_expired_claims()
        if _stop.wait(health.HEARTBEAT_SECONDS):
            return


def _rescue_expired_claims() -> None:
    """Frames claimed by a worker that died (kill -9, OOM, lost host) are re-enqueued once
    their lease is over, and queued frames whose message the broker lost are sent again, so
    recovery needs no operator and no broker redelivery timing. Now and then, raw images that
    no row names (a crash mid-upload) are removed."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection

    from backend.therapy.rescue import requeue_stuck_frames
    from backend.therapy.storage_sweep import sweep_orphaned_images

    try:
        rescued = requeue_stuck_frames(
            processing_lease=config.CLAIM_LEASE,
            queued_lease=timedelta(seconds=settings.FRAME_RESEND_AFTER_SECONDS),
        )
        if rescued:
            logger.warning("re-enqueued %d frame(s) whose claim or message was lost", rescued)
        _beats[0] += 1
        if _beats[0] % ORPHAN_SWEEP_EVERY_BEATS == 1:
            removed = sweep_orphaned_images(grace=timedelta(minutes=settings.ORPHAN_GRACE_MINUTES))
            if removed:
                logger.warning("removed %d raw image(s) that no frame names", len(removed))
    except Exception as exc:  # database or broker down: the next beat tries again
        logger.warning("expired-claim sweep failed: %s", exc)
    finally:
        connection.close()  # this thread's own connection; never hold one between beats
