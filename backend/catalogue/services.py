"""Writes to the catalogue: CSV import (bulk upsert), hand-edited tracks, (de)activation.

Every write goes through here so a track's mood coordinates are always recomputed from its
features and `updated_at` moves (which invalidates the recommender's cached feature matrix).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.catalogue import csv_format
from backend.catalogue.models import FEATURE_RANGES, ImportJob, ImportStatus, Track
from backend.catalogue.mood_model import place
from backend.common.errors import ApplicationError

logger = logging.getLogger(__name__)

# The admin upload refuses files above this (the 32,833-row source CSV is 7.6 MB).
CHUNK = 2000
MOOD_INPUTS = tuple(FEATURE_RANGES)
UPSERT_FIELDS = [
    f.name
    for f in Track._meta.concrete_fields
    if f.name not in ("id", "external_id", "is_active", "created_at", "audio_file")
]
# Always rewritten on upsert; every other field only when the file has its column, so
# importing data_moods (no genre, no mode) over spotify_songs keeps the genre and mode.
DERIVED_FIELDS = {"mood_valence", "mood_arousal", "mood_region", "updated_at", "external_url"}
COLUMN_FIELD = {"release_date": "release_year"}


def with_mood(rows: Sequence[dict[str, Any]]) -> None:
    """Fill mood_valence / mood_arousal / mood_region in place (vectorised over the rows)."""
    if not rows:
        return
    valence, arousal, regions = place({n: [r[n] for r in rows] for n in MOOD_INPUTS})
    for row, v, a, region in zip(rows, valence, arousal, regions, strict=True):
        row["mood_valence"], row["mood_arousal"], row["mood_region"] = float(v), float(a), region


def _upsert(rows: list[dict[str, Any]], update_fields: list[str]) -> tuple[int, int]:
    """Insert or update one chunk by external id; returns (created, updated)."""
    with_mood(rows)
    ids = [r["external_id"] for r in rows]
    existing = set(Track.objects.filter(external_id__in=ids).values_list("external_id", flat=True))
    tracks = [Track(**{k: v for k, v in r.items() if k != "line"}) for r in rows]
    with transaction.atomic():
        Track.objects.bulk_create(
            tracks,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=update_fields,
        )
    return len(rows) - len(existing), len(existing)


def import_tracks(
    *,
    stream: IO[bytes],
    filename: str,
    size: int,
    user: User | None = None,
    max_bytes: int | None = None,
    on_progress: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Validate every row, reject bad ones with line numbers, upsert the rest in chunks.

    Idempotent: tracks are keyed by external id, so a second import updates and never
    duplicates; an admin's deactivation survives re-imports. Rows repeating an id already seen
    in the same file are skipped (the first occurrence wins). Progress is saved after each
    chunk (in its own transaction) so GET /api/tracks/imports/{id} can show it.
    """
    limit = settings.CATALOGUE_IMPORT_MAX_BYTES if max_bytes is None else max_bytes
    if size > limit:
        raise ApplicationError(
            f"the file is {size} bytes; the limit is {limit}",
            code="file_too_large",
            status_code=413,
        )
    job = ImportJob.objects.create(filename=filename[:255], created_by=user)
    try:
        csv_format.decode_check(stream)
        parsed = csv_format.parse(
            csv_format.open_text(stream), max_rows=settings.CATALOGUE_IMPORT_MAX_ROWS
        )
    except ApplicationError as exc:
        _finish(job, ImportStatus.FAILED, error=exc.message)
        exc.details = {**(exc.details or {}), "job": job.pk}
        raise
    unique: dict[str, dict[str, Any]] = {}
    for row in parsed.rows:
        unique.setdefault(row["external_id"], row)
    job.total_rows = parsed.total
    job.duplicate_rows = len(parsed.rows) - len(unique)
    job.rejected_count = parsed.rejected_count
    job.rejected = parsed.rejected
    job.processed_rows = parsed.rejected_count + job.duplicate_rows
    job.save()
    rows = list(unique.values())
    present = {COLUMN_FIELD.get(c, c) for c in parsed.columns} | DERIVED_FIELDS
    update_fields = [f for f in UPSERT_FIELDS if f in present]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        created, updated = _upsert(chunk, update_fields)
        job.created_count += created
        job.updated_count += updated
        job.processed_rows += len(chunk)
        job.save(update_fields=["created_count", "updated_count", "processed_rows"])
        if on_progress is not None:
            on_progress(job)
    _finish(job, ImportStatus.DONE)
    logger.info(
        "import job=%s file=%s created=%s updated=%s rejected=%s duplicates=%s",
        job.pk,
        filename,
        job.created_count,
        job.updated_count,
        job.rejected_count,
        job.duplicate_rows,
    )
    return job


def _finish(job: ImportJob, status: str, error: str = "") -> None:
    job.status = status
    job.error = error
    job.finished_at = timezone.now()
    job.save()


def _check_ranges(fields: dict[str, Any]) -> None:
    problems = {}
    for name, (low, high) in FEATURE_RANGES.items():
        value = fields.get(name)
        if value is not None and not low <= value <= high:
            problems[name] = [f"must be between {low} and {high}"]
    if problems:
        raise ApplicationError(
            "audio features out of range: " + ", ".join(problems), details=problems
        )


@transaction.atomic
def create_track(**fields: Any) -> Track:
    """A hand-entered track (features typed in by an admin, since Spotify no longer serves
    them to new apps)."""
    _check_ranges(fields)
    if Track.objects.filter(external_id=fields["external_id"]).exists():
        raise ApplicationError(
            "a track with this external id exists", code="duplicate", status_code=409
        )
    row = dict(fields)
    with_mood([row])
    track = Track(**row)
    track.full_clean()
    track.save()
    return track


@transaction.atomic
def update_track(*, track: Track, **fields: Any) -> Track:
    """Correct a track by hand; its mood coordinates follow its features."""
    _check_ranges(fields)
    for name, value in fields.items():
        setattr(track, name, "" if name == "audio_file" and value is None else value)
    row = {n: getattr(track, n) for n in MOOD_INPUTS}
    with_mood([row])
    track.mood_valence, track.mood_arousal = row["mood_valence"], row["mood_arousal"]
    track.mood_region = row["mood_region"]
    track.full_clean(validate_unique=False)
    track.save()
    return track


def set_active(*, tracks: QuerySet[Track], active: bool) -> int:
    """(De)activate tracks; bumps updated_at so the recommender reloads its matrix."""
    return int(tracks.update(is_active=active, updated_at=timezone.now()))
