"""Re-enqueue frames whose work was lost: claims that outlived their lease (a worker died
holding them) and, optionally, frames queued for too long (a broker lost their messages).

Safe while workers run and when several processes do it at once: a processing frame is
handed back with a conditional UPDATE on its exact claim, so only one rescuer wins, and a
frame that still has a message just gets a duplicate, which finds nothing to do.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q

from backend.common import jobs
from backend.therapy.models import Frame, FrameStatus

logger = logging.getLogger(__name__)


def requeue_stuck_frames(
    *, processing_before: datetime, queued_before: datetime | None = None, limit: int = 10_000
) -> int:
    stuck_filter = Q(status=FrameStatus.PROCESSING, claimed_at__lte=processing_before)
    if queued_before is not None:
        stuck_filter |= Q(status=FrameStatus.QUEUED, uploaded_at__lte=queued_before)
    stuck = (
        Frame.objects.filter(stuck_filter)
        .order_by("uploaded_at")
        .values_list("pk", "status", "claimed_at")[:limit]
    )
    requeued = 0
    for frame_id, status, claimed_at in stuck:
        if status == FrameStatus.PROCESSING:
            handed_back = Frame.objects.filter(
                pk=frame_id, status=FrameStatus.PROCESSING, claimed_at=claimed_at
            ).update(status=FrameStatus.QUEUED)
            if not handed_back:
                continue  # its worker finished (or someone else rescued it) meanwhile
        jobs.send_now(jobs.ANALYSE_FRAME, frame_id)
        logger.info("requeued stuck frame frame_id=%s was=%s", frame_id, status)
        requeued += 1
    return requeued
