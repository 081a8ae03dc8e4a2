"""Delete stored raw frames past their retention.

    python manage.py purge_frames [--days N] [--dry-run]

FRAME_RETENTION=keep: frames whose analysis finished more than FRAME_RETENTION_DAYS days ago
(or --days) lose their image; the Frame row and its readings stay.
FRAME_RETENTION=delete: the worker already deletes each image after analysis, so this only
sweeps images left behind by a crash between the result and the file delete (finished frames
that still hold an image), whatever their age.

Frames still queued or processing are never touched: their image is the worker's input.
Run it daily (cron, a systemd timer, or `docker compose run --rm web manage purge_frames`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from backend.therapy.models import Frame, FrameStatus

FINAL = (FrameStatus.DONE, FrameStatus.NO_FACE, FrameStatus.FAILED)
BATCH = 500


class Command(BaseCommand):
    help = "Delete raw frame images older than the retention period (see FRAME_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override the retention")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        keep = settings.FRAME_RETENTION == "keep"
        if days is None:
            days = settings.FRAME_RETENTION_DAYS if keep else 0
        if days < 0:
            self.stderr.write("--days must be 0 or more")
            raise SystemExit(2)
        cutoff = timezone.now() - timedelta(days=days)
        # processed_at is set when analysis finished; uploaded_at covers rows from before it.
        old = Q(processed_at__lte=cutoff) | Q(processed_at__isnull=True, uploaded_at__lte=cutoff)
        candidates = Frame.objects.filter(status__in=FINAL).exclude(image="").filter(old)
        total = candidates.count()
        if dry_run:
            self.stdout.write(f"{total} frame image(s) older than {days} day(s) would be deleted")
            return
        purged = 0
        while batch := list(candidates.order_by("pk").values_list("pk", "image")[:BATCH]):
            for pk, name in batch:
                # File first, then the row: a crash in between leaves a row naming a missing
                # file, which the next run clears (deleting a missing file is a no-op), never
                # an unreferenced file of health data that nothing would find again.
                default_storage.delete(name)
                purged += Frame.objects.filter(pk=pk, image=name).update(image="")
        self.stdout.write(f"purged {purged} frame image(s) older than {days} day(s)")
