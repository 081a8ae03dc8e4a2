"""Re-enqueue frames whose work was lost, so that no frame stays unsettled:

- claims that outlived their lease (a worker died holding them) are handed back and re-sent;
- queued frames whose message was sent longer than a lease ago and never claimed (the broker
  lost it: Redis losing its last second, a web process dying between commit and publish, a
  failed send) are sent again.

Both run from every worker's heartbeat and from `manage.py requeue_stuck_frames`. Safe while
workers run and when several processes do it at once: each hand-back or re-send is a
conditional UPDATE on the exact state read, so only one rescuer wins, and a frame that still
had its message just gets a duplicate, which finds nothing to do (the claim is idempotent).
All times are the database's clock (backend.common.dbclock), never a worker's own.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q

from backend.common import jobs
from backend.common.dbclock import db_now
from backend.therapy.models import Frame, FrameStatus

logger = logging.getLogger(__name__)


def requeue_stuck_frames(
    *,
    processing_lease: timedelta,
    queued_lease: timedelta | None = None,
    limit: int = 10_000,
) -> int:
    """Hand back and re-send frames processing for longer than `processing_lease`, and re-send
    queued frames whose message is older than `queued_lease` (None: leave queued ones)."""
    now = db_now()
    requeued = _hand_back_expired_claims(now - processing_lease, limit)
    if queued_lease is not None:
        requeued += _resend_lost_messages(now - queued_lease, now, limit)
    return requeued


def _hand_back_expired_claims(cutoff: object, limit: int) -> int:
    stuck = (
        Frame.objects.filter(status=FrameStatus.PROCESSING, claimed_at__lte=cutoff)
        .order_by("claimed_at")
        .values_list("pk", "claimed_at")[:limit]
    )
    requeued = 0
    for frame_id, claimed_at in stuck:
        handed_back = Frame.objects.filter(
            pk=frame_id, status=FrameStatus.PROCESSING, claimed_at=claimed_at
        ).update(status=FrameStatus.QUEUED)
        if not handed_back:
            continue  # its worker finished (or someone else rescued it) meanwhile
        jobs.send_now(jobs.ANALYSE_FRAME, frame_id)
        logger.warning("requeued frame with an expired claim frame_id=%s", frame_id)
        requeued += 1
    return requeued


def _resend_lost_messages(cutoff: object, now: object, limit: int) -> int:
    lost = (
        Frame.objects.filter(status=FrameStatus.QUEUED)
        .filter(Q(last_sent_at__lte=cutoff) | Q(last_sent_at__isnull=True, uploaded_at__lte=cutoff))
        .order_by("uploaded_at")
        .values_list("pk", "last_sent_at")[:limit]
    )
    resent = 0
    for frame_id, last_sent_at in lost:
        # one rescuer per frame and lease: the stamp moves only from the value read
        won = Frame.objects.filter(
            pk=frame_id, status=FrameStatus.QUEUED, last_sent_at=last_sent_at
        ).update(last_sent_at=now)
        if not won:
            continue
        jobs.send_now(jobs.ANALYSE_FRAME, frame_id)
        logger.warning("re-sent a queued frame whose message was lost frame_id=%s", frame_id)
        resent += 1
    return resent
