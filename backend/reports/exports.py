"""CSV exports streamed in constant memory: rows come from a server-side cursor
(QuerySet.iterator(chunk_size) is a named cursor on PostgreSQL) and leave as text chunks,
so a million readings never sit in memory at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from backend.reports.params import Period
from backend.reports.selectors import patient_trend, session_moods
from backend.reports.stats import local_midnight, next_key
from backend.therapy.models import EMOTIONS, EmotionReading

CHUNK_ROWS = 5000
KINDS = ("readings", "sessions", "daily")

READING_COLUMNS = [
    "captured_at",
    "session_id",
    "frame_id",
    "face_index",
    "is_primary",
    "emotion",
    "confidence",
    "valence",
    "arousal",
    *(f"p_{e}" for e in EMOTIONS),
    "detection_score",
    "model_version",
]


def _chunks(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text in chunks of CHUNK_ROWS rows (one yield per chunk keeps overhead low)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count == CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    yield buffer.getvalue()


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    return local_midnight(period.first, period.tz), local_midnight(
        next_key(period.last, "day"), period.tz
    )


def readings_csv(patient_id: int, period: Period) -> Iterator[str]:
    start, end = period_bounds(period)
    if connection.vendor == "postgresql":
        return readings_csv_postgresql(patient_id, start, end)
    return readings_csv_portable(patient_id, start, end)


def readings_csv_portable(patient_id: int, start: datetime, end: datetime) -> Iterator[str]:
    rows = (
        EmotionReading.objects.filter(
            patient_id=patient_id, captured_at__gte=start, captured_at__lt=end
        )
        .order_by("captured_at", "id")
        .values_list(*READING_COLUMNS)
        .iterator(chunk_size=CHUNK_ROWS)
    )
    return _chunks(
        READING_COLUMNS,
        ([r[0].astimezone(UTC).strftime(TIME_FORMAT), *r[1:4], int(r[4]), *r[5:]] for r in rows),
    )


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
# PostgreSQL writes each CSV line itself (floats as shortest round-trip text, like Python's
# repr), so Python only joins strings: several times the rows/s of csv.writer over tuples.
_PG_LINE = (
    "concat_ws(',', to_char(captured_at AT TIME ZONE 'UTC', "
    '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\'), session_id, frame_id, face_index, '
    "is_primary::int, emotion, confidence, valence, arousal, "
    + ", ".join(f"p_{e}" for e in EMOTIONS)
    + ", detection_score, '\"' || replace(model_version, '\"', '\"\"') || '\"')"
)


def readings_csv_postgresql(patient_id: int, start: datetime, end: datetime) -> Iterator[str]:
    table = EmotionReading._meta.db_table
    sql = (
        f"SELECT {_PG_LINE} FROM {table} WHERE patient_id = %s "  # noqa: S608 (no user input)
        "AND captured_at >= %s AND captured_at < %s ORDER BY captured_at, id"
    )
    yield ",".join(READING_COLUMNS) + "\r\n"
    # A named (server-side) cursor: rows arrive CHUNK_ROWS at a time, never all at once.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [patient_id, start, end])
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield "\r\n".join(row[0] for row in rows) + "\r\n"


SESSION_COLUMNS = [
    "session_id",
    "goal",
    "started_at",
    "ended_at",
    "minutes",
    "readings",
    "frames_total",
    "frames_no_face",
    "frames_failed",
    "mean_valence",
    "mean_arousal",
    "start_valence",
    "start_arousal",
    "end_valence",
    "end_arousal",
    "change_valence",
    "change_arousal",
]


def sessions_csv(patient_id: int, period: Period) -> Iterator[str]:
    start, end = period_bounds(period)
    rows = (
        [
            s.session_id,
            s.goal,
            s.started_at.isoformat(),
            s.ended_at.isoformat() if s.ended_at else "",
            s.minutes,
            s.readings,
            s.frames_total,
            s.frames_no_face,
            s.frames_failed,
            s.mean_valence,
            s.mean_arousal,
            s.start_valence,
            s.start_arousal,
            s.end_valence,
            s.end_arousal,
            s.change("valence"),
            s.change("arousal"),
        ]
        for s in session_moods([patient_id], start, end)
    )
    return _chunks(SESSION_COLUMNS, rows)


DAILY_COLUMNS = [
    "day",
    "readings",
    "valence_mean",
    "valence_sd",
    "arousal_mean",
    "arousal_sd",
    *(f"share_{e}" for e in EMOTIONS),
    "sessions",
    "session_minutes",
    "checkins",
    "self_reported_valence",
    "self_reported_arousal",
    "within_session_change_valence",
]


def daily_csv(patient_id: int, period: Period) -> Iterator[str]:
    trend = patient_trend(
        patient_id, bucket="day", first=period.first, last=period.last, tz=period.tz
    )
    rows = (
        [
            b["start"][:10],
            b["readings"],
            b["valence"]["mean"],
            b["valence"]["sd"],
            b["arousal"]["mean"],
            b["arousal"]["sd"],
            *(b["emotion_share"][e] for e in EMOTIONS),
            b["sessions"]["count"],
            b["sessions"]["total_minutes"],
            b["self_reported"]["checkins"],
            b["self_reported"]["valence"],
            b["self_reported"]["arousal"],
            b["within_session_change"]["valence"],
        ]
        for b in trend["buckets"]
    )
    return _chunks(DAILY_COLUMNS, rows)


def export_csv(kind: str, patient_id: int, period: Period) -> Iterator[str]:
    return {"readings": readings_csv, "sessions": sessions_csv, "daily": daily_csv}[kind](
        patient_id, period
    )
