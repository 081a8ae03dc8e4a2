"""Pure arithmetic for reports: moments from sums, a least-squares trend with its confidence
interval, and local-time buckets. No Django, so it is tested and reused without a database."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.therapy.models import EMOTIONS

BUCKETS = ("day", "week", "month")


@dataclass
class MoodSums:
    """Additive sums over primary readings; any union of rollups is their field-wise sum."""

    n: int = 0
    sum_valence: float = 0.0
    sumsq_valence: float = 0.0
    sum_arousal: float = 0.0
    sumsq_arousal: float = 0.0
    sum_p: dict[str, float] = field(default_factory=lambda: dict.fromkeys(EMOTIONS, 0.0))
    top: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EMOTIONS, 0))

    @classmethod
    def from_row(cls, row: dict[str, object]) -> MoodSums:
        return cls(
            n=int(row["n"]),  # type: ignore[call-overload]
            sum_valence=float(row["sum_valence"] or 0.0),  # type: ignore[arg-type]
            sumsq_valence=float(row["sumsq_valence"] or 0.0),  # type: ignore[arg-type]
            sum_arousal=float(row["sum_arousal"] or 0.0),  # type: ignore[arg-type]
            sumsq_arousal=float(row["sumsq_arousal"] or 0.0),  # type: ignore[arg-type]
            sum_p={e: float(row[f"sum_p_{e}"] or 0.0) for e in EMOTIONS},  # type: ignore[arg-type]
            top={e: int(row[f"top_{e}"] or 0) for e in EMOTIONS},  # type: ignore[call-overload]
        )

    def add(self, other: MoodSums) -> None:
        self.n += other.n
        self.sum_valence += other.sum_valence
        self.sumsq_valence += other.sumsq_valence
        self.sum_arousal += other.sum_arousal
        self.sumsq_arousal += other.sumsq_arousal
        for e in EMOTIONS:
            self.sum_p[e] += other.sum_p[e]
            self.top[e] += other.top[e]

    def as_json(self) -> dict[str, object]:
        n = self.n
        return {
            "readings": n,
            "valence": _moments(n, self.sum_valence, self.sumsq_valence),
            "arousal": _moments(n, self.sum_arousal, self.sumsq_arousal),
            "emotion_share": {e: (self.top[e] / n if n else None) for e in EMOTIONS},
            "mean_probability": {e: (self.sum_p[e] / n if n else None) for e in EMOTIONS},
        }


def _moments(n: int, total: float, total_sq: float) -> dict[str, float | None]:
    """Mean and sample standard deviation from n, sum and sum of squares."""
    if n == 0:
        return {"mean": None, "sd": None}
    mean = total / n
    if n < 2:
        return {"mean": mean, "sd": None}
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))  # clamp float round-off
    return {"mean": mean, "sd": math.sqrt(variance)}


def mean_or_none(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# Two-sided 95% quantiles of Student's t for small df; larger df use a series expansion.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def t95(df: int) -> float:
    if df <= len(_T95):
        return _T95[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def linear_trend(xs: Sequence[float], ys: Sequence[float]) -> dict[str, object]:
    """Ordinary least squares slope of ys on xs with its 95% confidence interval.

    Needs three points (one residual degree of freedom at least); otherwise slope is None.
    """
    n = len(xs)
    if n < 3:
        return {"slope": None, "ci95": None, "n": n}
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return {"slope": None, "ci95": None, "n": n}
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    rss = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(rss / (n - 2) / sxx)
    half = t95(n - 2) * se
    return {"slope": slope, "ci95": [slope - half, slope + half], "n": n}


def date_bucket(day: date, bucket: str) -> date:
    """The local calendar date that starts the bucket holding this date."""
    if bucket == "day":
        return day
    if bucket == "week":  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def bucket_key(moment: datetime, bucket: str, tz: ZoneInfo) -> date:
    """The bucket (by its first local date) holding this instant, in the viewer's zone."""
    return date_bucket(moment.astimezone(tz).date(), bucket)


def next_key(key: date, bucket: str) -> date:
    if bucket == "day":
        return key + timedelta(days=1)
    if bucket == "week":
        return key + timedelta(days=7)
    return (key.replace(day=28) + timedelta(days=4)).replace(day=1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day starts (zoneinfo resolves DST gaps and folds)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def bucket_keys(start: date, end: date, bucket: str) -> list[date]:
    """Every bucket touching the local dates [start, end], empty ones included."""
    keys = []
    key = date_bucket(start, bucket)
    while key <= end:
        keys.append(key)
        key = next_key(key, bucket)
    return keys


def group_by_bucket(
    items: Iterable[tuple[datetime, MoodSums]], bucket: str, tz: ZoneInfo
) -> dict[date, MoodSums]:
    grouped: dict[date, MoodSums] = {}
    for moment, sums in items:
        grouped.setdefault(bucket_key(moment, bucket, tz), MoodSums()).add(sums)
    return grouped
