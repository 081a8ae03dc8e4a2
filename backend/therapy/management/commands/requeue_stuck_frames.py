"""Re-enqueue frames stuck in queued/processing for longer than --older-than seconds.

For after a broker outage that lost messages (a Redis restart without persistence) or a
task that gave up on transient errors. Safe while workers run: a processing frame is handed
back with a conditional UPDATE on its claim, and a frame that is also still queued just gets a
duplicate message, which finds nothing to do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from backend.common.dbclock import db_now
from backend.therapy.models import Frame, FrameStatus
from backend.therapy.rescue import requeue_stuck_frames


class Command(BaseCommand):
    help = "Re-enqueue analysis for frames stuck in queued/processing longer than a threshold."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, required=True, metavar="SECONDS")
        parser.add_argument("--dry-run", action="store_true", help="only count them")
        parser.add_argument("--limit", type=int, default=10_000)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than must be >= 0")
        lease = timedelta(seconds=options["older_than"])
        cutoff = db_now() - lease
        if options["dry_run"]:
            requeued = (
                Frame.objects.filter(
                    Q(status=FrameStatus.QUEUED, uploaded_at__lte=cutoff)
                    | Q(status=FrameStatus.PROCESSING, claimed_at__lte=cutoff)
                )
                .order_by()[: options["limit"]]
                .count()
            )
        else:
            requeued = requeue_stuck_frames(
                processing_lease=lease, queued_lease=lease, limit=options["limit"]
            )
        verb = "would re-enqueue" if options["dry_run"] else "re-enqueued"
        self.stdout.write(f"{verb} {requeued} frame(s) stuck for over {options['older_than']}s")
