"""Remove raw frame images that no Frame row names (privacy: raw frames are health data).

How one can appear: the web process stores the file, then commits the row; a crash between
the two leaves a file with no row. (Analysis deletes before it forgets, so it leaves none.)
Files younger than the grace period are left alone: an upload may be between its two steps.

    python manage.py sweep_orphaned_images [--grace-minutes N] [--dry-run]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from backend.therapy.models import Frame

logger = logging.getLogger(__name__)
ROOT = "frames"


def _files(folder: str) -> Iterator[str]:
    if not default_storage.exists(folder):
        return
    dirs, files = default_storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}"
    for sub in dirs:
        yield from _files(f"{folder}/{sub}")


def sweep_orphaned_images(*, grace: timedelta, dry_run: bool = False) -> list[str]:
    """Delete (or with dry_run only list) images older than `grace` that no frame names."""
    cutoff = timezone.now() - grace
    removed = []
    for name in _files(ROOT):
        if default_storage.get_modified_time(name) > cutoff:
            continue
        if Frame.objects.filter(image=name).exists():
            continue
        if not dry_run:
            default_storage.delete(name)
            logger.warning("removed orphaned raw image %s", name)
        removed.append(name)
    return removed
