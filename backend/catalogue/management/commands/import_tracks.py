"""manage.py import_tracks FILE.csv[.gz] [...]: validate and upsert tracks, print a JSON summary.

Idempotent (keyed by external id). Rejected rows are listed with line numbers and reasons.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.catalogue.models import ImportJob
from backend.catalogue.services import import_tracks
from backend.common.errors import ApplicationError


class Command(BaseCommand):
    help = "Import tracks from Spotify-features CSV files (plain or gzip)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--max-bytes", type=int, default=None, help="size limit (default: the upload limit)"
        )
        parser.add_argument("--show-rejected", type=int, default=20, help="rejections to print")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["files"]:
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
            started = time.perf_counter()

            def progress(job: ImportJob, name: str = path.name) -> None:
                self.stderr.write(f"{name}: {job.processed_rows}/{job.total_rows}")

            with path.open("rb") as stream:
                try:
                    job = import_tracks(
                        stream=stream,
                        filename=path.name,
                        size=path.stat().st_size,
                        max_bytes=options["max_bytes"],
                        on_progress=progress,
                    )
                except ApplicationError as exc:
                    raise CommandError(f"{path}: {exc.message}") from None
            summary = {
                "file": str(path),
                "job": job.pk,
                "rows": job.total_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "duplicate_rows": job.duplicate_rows,
                "rejected": job.rejected_count,
                "seconds": round(time.perf_counter() - started, 2),
                "rejected_rows": job.rejected[: options["show_rejected"]],
            }
            self.stdout.write(json.dumps(summary))
