"""One session's report: smoothed timeline, emotion shares, frame outcomes, start vs end mood,
check-ins and (when the recommender's records exist) the tracks played with the mood around each.

The timeline is binned in SQL (at most MAX_POINTS bins over the session), so a long session
costs one grouped index scan, not a transfer of every reading.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, FloatField, Func, Max, Min
from django.db.models.functions import Floor

from backend.recommendations.models import TrackFeedback
from backend.reports.rollups import session_figures, sum_aggregates
from backend.reports.stats import MoodSums
from backend.therapy.models import EMOTIONS, EmotionReading, MoodCheckIn, TherapySession

MAX_POINTS = 240
SMOOTHING_BINS = 5  # centred moving average, weighted by readings per bin
TRACK_WINDOW = timedelta(seconds=60)  # mood "around" a track: this long either side of its start


class Epoch(Func):
    """Seconds since 1970 as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )


def session_report(session: TherapySession) -> dict[str, Any]:
    primary = EmotionReading.objects.filter(session=session, is_primary=True)
    sums = primary.aggregate(**sum_aggregates(), first=Min("captured_at"), last=Max("captured_at"))
    n = sums["n"]
    known = {"n": n, "v": sums["sum_valence"] / n, "a": sums["sum_arousal"] / n} if n else {}
    figures = session_figures([session.pk], {session.pk: known} if n else {})[session.pk]
    checkins = {
        c["phase"]: {k: c[k] for k in ("valence", "arousal", "word", "created_at")}
        for c in MoodCheckIn.objects.filter(session=session).values(
            "phase", "valence", "arousal", "word", "created_at"
        )
    }
    report = {
        "session": {
            "id": session.pk,
            "patient": session.patient_id,
            "goal": session.goal,
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "minutes": (
                (session.ended_at - session.started_at).total_seconds() / 60
                if session.ended_at
                else None
            ),
        },
        "frames": {
            "total": figures.frames_total,
            "analysed": figures.frames_done,
            "no_face": figures.frames_no_face,
            "failed": figures.frames_failed,
            "pending": figures.frames_pending,
        },
        **MoodSums.from_row(sums).as_json(),
        "start": {"valence": figures.start_valence, "arousal": figures.start_arousal},
        "end": {"valence": figures.end_valence, "arousal": figures.end_arousal},
        "change": {
            "valence": _diff(figures.end_valence, figures.start_valence),
            "arousal": _diff(figures.end_arousal, figures.start_arousal),
        },
        "checkins": {"before": checkins.get("before"), "after": checkins.get("after")},
        "timeline": timeline(primary, sums["first"], sums["last"]),
    }
    report["tracks"] = tracks_played(session)
    return report


def _diff(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else end - start


def timeline(primary: Any, first: datetime | None, last: datetime | None) -> list[dict[str, Any]]:
    """At most MAX_POINTS time bins of mean mood between the first and last reading."""
    if first is None or last is None:
        return []
    seconds = max((last - first).total_seconds(), 1e-3)
    width = seconds / (MAX_POINTS - 1)
    means = {f"p_{e}": Avg(f"p_{e}") for e in EMOTIONS}
    bins = list(
        primary.annotate(bin=Floor((Epoch("captured_at") - first.timestamp()) / width))
        .values("bin")
        .annotate(n=Count("id"), valence=Avg("valence"), arousal=Avg("arousal"), **means)
        .order_by("bin")
    )
    points = []
    for i, b in enumerate(bins):
        window = bins[max(0, i - SMOOTHING_BINS // 2) : i + SMOOTHING_BINS // 2 + 1]
        total = sum(w["n"] for w in window)
        points.append(
            {
                "t": (first + timedelta(seconds=float(b["bin"]) * width)).isoformat(),
                "readings": b["n"],
                "valence": b["valence"],
                "arousal": b["arousal"],
                "valence_smoothed": sum(w["valence"] * w["n"] for w in window) / total,
                "arousal_smoothed": sum(w["arousal"] * w["n"] for w in window) / total,
                "probabilities": {e: b[f"p_{e}"] for e in EMOTIONS},
            }
        )
    return points


def tracks_played(session: TherapySession) -> list[dict[str, Any]]:
    """Tracks the patient played (or skipped) in this session, from the recommender's feedback
    records, each with the detected mood within TRACK_WINDOW of the record and the patient's own
    rating when given."""
    records = (
        TrackFeedback.objects.filter(session=session, kind__in=("played", "skipped"))
        .select_related("track")
        .order_by("created_at", "pk")
    )
    out = []
    for record in records:
        at = record.created_at
        around = EmotionReading.objects.filter(
            session=session,
            is_primary=True,
            captured_at__gte=at - TRACK_WINDOW,
            captured_at__lt=at + TRACK_WINDOW,
        ).aggregate(readings=Count("id"), valence=Avg("valence"), arousal=Avg("arousal"))
        out.append(
            {
                "at": at,
                "kind": record.kind,
                "track": {
                    "id": record.track.pk,
                    "title": record.track.title,
                    "artist": record.track.artist,
                },
                "detected_mood": around,
                "self_reported": {"valence": record.valence, "arousal": record.arousal},
            }
        )
    return out
