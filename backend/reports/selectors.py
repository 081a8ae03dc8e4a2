"""Shared report reads: per-session moods and a patient's trend in local-time buckets.

Callers check permission first (backend.therapy.selectors.can_view_patient) and run
services.refresh_rollups, so settled sessions come from the rollup tables; sessions still
running are aggregated from their raw readings here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import DateTimeField, Sum
from django.db.models.functions import Trunc

from backend.reports import flags as report_flags
from backend.reports.models import MoodRollup, SessionSummary
from backend.reports.rollups import quarter_rows, session_figures
from backend.reports.stats import (
    MoodSums,
    bucket_key,
    bucket_keys,
    group_by_bucket,
    linear_trend,
    local_midnight,
    mean_or_none,
    next_key,
)
from backend.therapy.models import MoodCheckIn, TherapySession

SECONDS_PER_WEEK = 7 * 24 * 3600.0
ROLLUP_SUMS = [
    f.name for f in MoodRollup._meta.fields if f.name == "n" or f.name.startswith(("sum", "top"))
]


@dataclass(slots=True)
class SessionMood:
    session_id: int
    patient_id: int
    goal: str
    started_at: datetime
    ended_at: datetime | None
    readings: int
    frames_total: int
    frames_no_face: int
    frames_failed: int
    mean_valence: float | None
    mean_arousal: float | None
    start_valence: float | None
    start_arousal: float | None
    end_valence: float | None
    end_arousal: float | None

    @property
    def minutes(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds() / 60

    def change(self, axis: str) -> float | None:
        start, end = getattr(self, f"start_{axis}"), getattr(self, f"end_{axis}")
        return None if start is None or end is None else end - start

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "goal": self.goal,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "minutes": self.minutes,
            "readings": self.readings,
            "mean": {"valence": self.mean_valence, "arousal": self.mean_arousal},
            "start": {"valence": self.start_valence, "arousal": self.start_arousal},
            "end": {"valence": self.end_valence, "arousal": self.end_arousal},
            "change": {"valence": self.change("valence"), "arousal": self.change("arousal")},
        }


_SUMMARY_FIELDS = [
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
]


def session_moods(
    patient_ids: Sequence[int],
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    session_ids: Sequence[int] | None = None,
) -> list[SessionMood]:
    """Sessions started in [start, end), oldest first, from summaries or (if live) readings."""
    sessions = TherapySession.objects.filter(patient_id__in=patient_ids)
    summaries = SessionSummary.objects.filter(patient_id__in=patient_ids)
    if session_ids is not None:
        sessions = sessions.filter(pk__in=session_ids)
        summaries = summaries.filter(session_id__in=session_ids)
    if start is not None:
        sessions = sessions.filter(started_at__gte=start)
        summaries = summaries.filter(started_at__gte=start)
    if end is not None:
        sessions = sessions.filter(started_at__lt=end)
        summaries = summaries.filter(started_at__lt=end)
    # Tuples, not dicts: two years of daily sessions cross into Python on every trend request.
    rows = list(
        sessions.order_by("started_at").values_list(
            "pk", "patient_id", "goal", "started_at", "ended_at"
        )
    )
    stored = {row[0]: row[1:] for row in summaries.values_list("session_id", *_SUMMARY_FIELDS)}
    live = session_figures([r[0] for r in rows if r[0] not in stored])
    out = []
    for pk, patient_id, goal, started_at, ended_at in rows:
        figures = stored.get(pk) or [getattr(live[pk], k) for k in _SUMMARY_FIELDS]
        out.append(SessionMood(pk, patient_id, goal, started_at, ended_at, *figures))
    return out


def bucketed_mood(
    patient_id: int, start: datetime, end: datetime, bucket: str, tz: ZoneInfo
) -> dict[date, MoodSums]:
    """Mood sums per local bucket in [start, end).

    Stored rollups are grouped in SQL by the local day/week/month (Django's Trunc with a zone:
    date_trunc(... AT TIME ZONE ...) on PostgreSQL, its own zone-aware function on SQLite), so
    about one row per bucket comes back. Sessions not yet settled add their quarter-hour sums
    straight from the readings.
    """
    local_start = Trunc("bucket_start", bucket, output_field=DateTimeField(), tzinfo=tz)
    stored = (
        MoodRollup.objects.filter(
            patient_id=patient_id, bucket_start__gte=start, bucket_start__lt=end
        )
        .annotate(local_start=local_start)
        .values("local_start")
        .annotate(**{name: Sum(name) for name in ROLLUP_SUMS})
        .order_by()
    )
    grouped = {row["local_start"].astimezone(tz).date(): MoodSums.from_row(row) for row in stored}
    live_ids = (
        TherapySession.objects.filter(patient_id=patient_id, started_at__lt=end)
        .exclude(ended_at__lt=start)
        .exclude(pk__in=SessionSummary.objects.filter(patient_id=patient_id).values("pk"))
        .values_list("pk", flat=True)
    )
    live = [(r["bucket_start"], MoodSums.from_row(r)) for r in quarter_rows(live_ids, start, end)]
    for key, sums in group_by_bucket(live, bucket, tz).items():
        grouped.setdefault(key, MoodSums()).add(sums)
    return grouped


def checkins(patient_ids: Sequence[int], start: datetime, end: datetime) -> list[dict[str, Any]]:
    return list(
        MoodCheckIn.objects.filter(
            patient_id__in=patient_ids, created_at__gte=start, created_at__lt=end
        )
        .order_by("created_at")
        .values("patient_id", "session_id", "phase", "valence", "arousal", "word", "created_at")
    )


def session_trend(sessions: Sequence[SessionMood], origin: datetime) -> dict[str, Any]:
    """Least-squares slope of session mean mood per week, with its 95% interval."""
    rated = [s for s in sessions if s.mean_valence is not None]
    weeks = [(s.started_at - origin).total_seconds() / SECONDS_PER_WEEK for s in rated]
    return {
        "basis": "mean detected mood per session",
        "per": "week",
        "valence": linear_trend(weeks, [s.mean_valence for s in rated]),  # type: ignore[misc]
        "arousal": linear_trend(weeks, [s.mean_arousal for s in rated]),  # type: ignore[misc]
    }


def patient_trend(
    patient_id: int, *, bucket: str, first: date, last: date, tz: ZoneInfo, flag_sessions: int = 3
) -> dict[str, Any]:
    """Buckets covering the local dates [first, last] (whole buckets), trend and flags."""
    keys = bucket_keys(first, last, bucket)
    start = local_midnight(keys[0], tz)
    end = local_midnight(next_key(keys[-1], bucket), tz)
    mood = bucketed_mood(patient_id, start, end, bucket, tz)
    sessions = session_moods([patient_id], start, end)
    reported = checkins([patient_id], start, end)
    per_bucket: dict[date, dict[str, list[Any]]] = {k: {"s": [], "c": []} for k in keys}
    for s in sessions:
        per_bucket[bucket_key(s.started_at, bucket, tz)]["s"].append(s)
    for c in reported:
        per_bucket[bucket_key(c["created_at"], bucket, tz)]["c"].append(c)
    buckets = []
    for key in keys:
        sess, chk = per_bucket[key]["s"], per_bucket[key]["c"]
        minutes = [s.minutes for s in sess if s.minutes is not None]
        changes = [s for s in sess if s.change("valence") is not None]
        buckets.append(
            {
                "start": local_midnight(key, tz).isoformat(),
                "end": local_midnight(next_key(key, bucket), tz).isoformat(),
                **mood.get(key, MoodSums()).as_json(),
                "sessions": {
                    "count": len(sess),
                    "total_minutes": sum(minutes),
                    "mean_minutes": mean_or_none(minutes),
                },
                "self_reported": {
                    "checkins": len(chk),
                    "valence": mean_or_none([c["valence"] for c in chk]),
                    "arousal": mean_or_none([c["arousal"] for c in chk]),
                },
                "within_session_change": {
                    "sessions": len(changes),
                    "valence": mean_or_none([s.change("valence") for s in changes]),
                    "arousal": mean_or_none([s.change("arousal") for s in changes]),
                },
            }
        )
    return {
        "patient": patient_id,
        "bucket": bucket,
        "tz": tz.key,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "buckets": buckets,
        "trend": session_trend(sessions, start),
        "flags": report_flags.observe(
            sessions, reported, flag_sessions=flag_sessions, period_end=end
        ),
    }
