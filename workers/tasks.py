"""analyse_frame(frame_id): claim the frame (plus queued ones to fill a batch), analyse, record.

Safe to run twice: the claim is a conditional UPDATE and results are fenced by it, so a
duplicate delivery finds nothing to do. A frame held by a live claim elsewhere is looked at
again when that claim's lease runs out, so a worker killed mid-batch loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from backend.common.jobs import ANALYSE_FRAME
from backend.therapy import analysis
from workers import config, processing
from workers.app import app
from workers.model import batch_size, get_pipeline

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, BrokerError, RedisError, ConnectionError)


def _backoff(retries: int) -> float:
    return float(min(60, 2**retries))


def claim_batch(frame_id: int) -> list[analysis.Claim] | analysis.Held | None:
    first = analysis.claim_frame(frame_id=frame_id, lease=config.CLAIM_LEASE)
    if not isinstance(first, analysis.Claim):
        return first
    size = batch_size()
    claims = [first]
    claims += analysis.claim_queued(limit=size - 1, lease=config.CLAIM_LEASE)
    if len(claims) < size and config.BATCH_WAIT_MS:
        time.sleep(config.BATCH_WAIT_MS / 1000)
        claims += analysis.claim_queued(limit=size - len(claims), lease=config.CLAIM_LEASE)
    return claims


@app.task(name=ANALYSE_FRAME, bind=True, max_retries=None)
def analyse_frame(self: Any, frame_id: int) -> dict[str, int] | None:
    task_id = self.request.id
    claims: list[analysis.Claim] = []
    try:
        batch = claim_batch(frame_id)
        if isinstance(batch, analysis.Held):
            logger.info(
                "frame held elsewhere frame_id=%s task_id=%s retry_in=%.0fs",
                frame_id,
                task_id,
                batch.retry_after,
            )
            raise self.retry(countdown=batch.retry_after)
        if batch is None:
            logger.info("nothing to do frame_id=%s task_id=%s", frame_id, task_id)
            return None
        claims = batch
        return processing.process(claims, task_id=task_id, pipeline=get_pipeline())
    except TRANSIENT as exc:
        if self.request.retries >= config.TRANSIENT_RETRIES:
            raise
        logger.warning("transient error frame_id=%s task_id=%s: %s", frame_id, task_id, exc)
        with contextlib.suppress(DatabaseError):  # if not released, the leases expire instead
            analysis.release(claims=claims)  # let this retry (or another worker) take them
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
