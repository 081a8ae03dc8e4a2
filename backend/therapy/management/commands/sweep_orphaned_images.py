"""Remove raw frame images that no frame row names (see backend.therapy.storage_sweep).

    python manage.py sweep_orphaned_images [--grace-minutes N] [--dry-run]

Workers run it every ten minutes from their heartbeat; this is the operator's handle on it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from backend.therapy.storage_sweep import sweep_orphaned_images


class Command(BaseCommand):
    help = "Delete raw frame images that no frame row names, older than a grace period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=settings.ORPHAN_GRACE_MINUTES)
        parser.add_argument("--dry-run", action="store_true", help="only list them")

    def handle(self, *args: Any, **options: Any) -> None:
        removed = sweep_orphaned_images(
            grace=timedelta(minutes=options["grace_minutes"]), dry_run=options["dry_run"]
        )
        verb = "would remove" if options["dry_run"] else "removed"
        self.stdout.write(f"{verb} {len(removed)} orphaned image(s)")
        for name in removed:
            self.stdout.write(f"  {name}")
