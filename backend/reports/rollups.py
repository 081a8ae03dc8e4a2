"""SQL aggregates over raw readings: quarter-hour sums and per-session figures.

These queries are what fills the rollup tables (services.refresh_rollups) and, for sessions not
yet settled, what reports read directly. They group in the database with portable ORM
expressions (PostgreSQL and SQLite); only aggregated rows come back to Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import ExtractMinute, Floor, TruncHour

from backend.therapy.models import EMOTIONS, EmotionReading, Frame, FrameStatus

# A session is settled (its rollup can be stored for good) once it ended this long ago and none
# of its frames waits for analysis: the grace covers a frame accepted in the same instant the
# session was ended.
SETTLE_GRACE = timedelta(minutes=2)
PENDING_STATUSES = (FrameStatus.QUEUED, FrameStatus.PROCESSING)
# Start and end mood: the mean of the first / last readings, at most this many and at most a
# quarter of the session's readings (so start and end never overlap).
EDGE_READINGS = 30


def sum_aggregates() -> dict[str, Any]:
    aggregates: dict[str, Any] = {
        "n": Count("id"),
        "sum_valence": Sum("valence"),
        "sumsq_valence": Sum(F("valence") * F("valence")),
        "sum_arousal": Sum("arousal"),
        "sumsq_arousal": Sum(F("arousal") * F("arousal")),
    }
    for e in EMOTIONS:
        aggregates[f"sum_p_{e}"] = Sum(f"p_{e}")
    for e in EMOTIONS:
        aggregates[f"top_{e}"] = Count("id", filter=Q(emotion=e))
    return aggregates


def quarter_rows(
    session_ids: Iterable[int], start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Quarter-hour sums of primary readings per session, as MoodRollup field dicts."""
    readings = EmotionReading.objects.filter(session_id__in=list(session_ids), is_primary=True)
    if start is not None:
        readings = readings.filter(captured_at__gte=start)
    if end is not None:
        readings = readings.filter(captured_at__lt=end)
    rows = (
        readings.annotate(
            hour=TruncHour("captured_at", tzinfo=UTC),
            quarter=Floor(ExtractMinute("captured_at", tzinfo=UTC) / 15),
        )
        .values("session_id", "patient_id", "hour", "quarter")
        .annotate(**sum_aggregates())
        .order_by()
    )
    out = []
    for row in rows:
        hour, quarter = row.pop("hour"), row.pop("quarter")
        row["bucket_start"] = hour.astimezone(UTC) + timedelta(minutes=15 * int(quarter))
        out.append(row)
    return out


@dataclass
class SessionFigures:
    """What one session's readings and frames say, start to end."""

    session_id: int
    frames_total: int = 0
    frames_done: int = 0
    frames_no_face: int = 0
    frames_failed: int = 0
    frames_pending: int = 0
    readings: int = 0
    mean_valence: float | None = None
    mean_arousal: float | None = None
    start_valence: float | None = None
    start_arousal: float | None = None
    end_valence: float | None = None
    end_arousal: float | None = None


def edge_size(readings: int) -> int:
    return max(1, min(EDGE_READINGS, readings // 4))


def session_figures(
    session_ids: Iterable[int], known_means: dict[int, dict[str, Any]] | None = None
) -> dict[int, SessionFigures]:
    """Frame outcomes and mood per session. known_means ({session: {n, v, a}}) skips the
    per-session mean query when the caller has already aggregated the readings."""
    ids = list(session_ids)
    figures = {sid: SessionFigures(sid) for sid in ids}
    frames = (
        Frame.objects.filter(session_id__in=ids)
        .values("session_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=FrameStatus.DONE)),
            no_face=Count("id", filter=Q(status=FrameStatus.NO_FACE)),
            failed=Count("id", filter=Q(status=FrameStatus.FAILED)),
            pending=Count("id", filter=Q(status__in=PENDING_STATUSES)),
        )
        .order_by()
    )
    for row in frames:
        f = figures[row["session_id"]]
        f.frames_total, f.frames_done = row["total"], row["done"]
        f.frames_no_face, f.frames_failed, f.frames_pending = (
            row["no_face"],
            row["failed"],
            row["pending"],
        )
    primary = EmotionReading.objects.filter(session_id__in=ids, is_primary=True)
    means = (
        [{"session_id": sid, **row} for sid, row in known_means.items()]
        if known_means is not None
        else primary.values("session_id")
        .annotate(n=Count("id"), v=Avg("valence"), a=Avg("arousal"))
        .order_by()
    )
    for row in means:
        f = figures[row["session_id"]]
        f.readings, f.mean_valence, f.mean_arousal = row["n"], row["v"], row["a"]
    for f in figures.values():
        if f.readings:
            # Two index range scans on (session, captured_at) per session.
            edge = edge_size(f.readings)
            mine = primary.filter(session_id=f.session_id)
            means = {"v": Avg("valence"), "a": Avg("arousal")}
            first = mine.order_by("captured_at")[:edge].aggregate(**means)
            last = mine.order_by("-captured_at")[:edge].aggregate(**means)
            f.start_valence, f.start_arousal = first["v"], first["a"]
            f.end_valence, f.end_arousal = last["v"], last["a"]
    return figures
