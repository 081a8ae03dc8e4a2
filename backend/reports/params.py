"""Query parameters shared by the patient report endpoints: bucket, period, time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from rest_framework.request import Request

from backend.common.errors import ApplicationError
from backend.reports.stats import BUCKETS, bucket_keys

DEFAULT_SPAN = {
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}
MAX_BUCKETS = 800  # a little over two years of days


@dataclass(frozen=True)
class Period:
    bucket: str
    first: date  # local dates, inclusive
    last: date
    tz: ZoneInfo

    def as_json(self) -> dict[str, str]:
        return {
            "bucket": self.bucket,
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
            "tz": self.tz.key,
        }


def time_zone(request: Request) -> ZoneInfo:
    """?tz= overrides the viewer's own User.time_zone."""
    name = request.query_params.get("tz") or getattr(request.user, "time_zone", "") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ApplicationError(f"unknown time zone {name!r}", code="invalid_tz") from exc


def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise ApplicationError(f"{name} must be a date (YYYY-MM-DD), got {raw!r}") from exc


def period(request: Request, default_bucket: str = "week") -> Period:
    bucket = request.query_params.get("bucket", default_bucket)
    if bucket not in BUCKETS:
        raise ApplicationError(f"bucket must be one of {', '.join(BUCKETS)}", code="invalid_bucket")
    tz = time_zone(request)
    last = _date(request, "end") or timezone.now().astimezone(tz).date()
    first = _date(request, "start") or last - DEFAULT_SPAN[bucket] + timedelta(days=1)
    if first > last:
        raise ApplicationError("start must not be after end", code="invalid_period")
    # the cheap span check first keeps absurd ranges from building a huge key list
    too_long = (last - first).days > 31 * MAX_BUCKETS
    if too_long or len(bucket_keys(first, last, bucket)) > MAX_BUCKETS:
        raise ApplicationError(
            f"at most {MAX_BUCKETS} buckets per request; use a coarser bucket",
            code="invalid_period",
        )
    return Period(bucket=bucket, first=first, last=last, tz=tz)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApplicationError(f"{name} must be an integer from {low} to {high}")
    return value
