"""Simple observations a therapist asked to be pointed at, worded as observations about the
recorded data, never as diagnoses. Pure functions over session moods and check-ins."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from backend.reports.selectors import SessionMood

SELF_REPORT_GAP = 0.4  # mean |self-reported - detected| valence worth pointing out
MIN_CHECKINS = 3
NO_FACE_SHARE = 0.5
QUIET_DAYS = 14


def observe(
    sessions: Sequence[SessionMood],
    checkins: Sequence[dict[str, Any]],
    *,
    flag_sessions: int = 3,
    now: datetime | None = None,
    period_end: datetime | None = None,
) -> list[dict[str, Any]]:
    """Observations on the sessions (oldest first) and check-ins of one period.

    The recency observation is only made when the period reaches the present (period_end
    None or later than QUIET_DAYS ago): a report on last spring says nothing about this week.
    """
    now = now or timezone.now()
    found = []
    rated = [s for s in sessions if s.mean_valence is not None]
    recent = rated[-flag_sessions:] if flag_sessions >= 2 else []
    if len(recent) == flag_sessions and all(
        later.mean_valence < earlier.mean_valence  # type: ignore[operator]
        for earlier, later in itertools.pairwise(recent)
    ):
        found.append(
            {
                "code": "valence_falling",
                "text": (
                    f"Mean detected valence was lower in each of the last {flag_sessions} "
                    f"sessions than in the one before ({recent[0].mean_valence:+.2f} to "
                    f"{recent[-1].mean_valence:+.2f})."
                ),
            }
        )
    gap = _self_report_gap(sessions, checkins)
    if gap is not None and abs(gap[0]) >= SELF_REPORT_GAP:
        direction = "higher" if gap[0] > 0 else "lower"
        found.append(
            {
                "code": "self_report_gap",
                "text": (
                    f"Self-reported valence was {direction} than detected valence by "
                    f"{abs(gap[0]):.2f} on average over {gap[1]} check-ins."
                ),
            }
        )
    if sessions and sessions[-1].frames_total:
        last = sessions[-1]
        share = last.frames_no_face / last.frames_total
        if share >= NO_FACE_SHARE:
            found.append(
                {
                    "code": "few_faces",
                    "text": (
                        f"In the latest session {share:.0%} of frames showed no face, so its "
                        "mood figures rest on few frames."
                    ),
                }
            )
    latest = max((s.started_at for s in sessions), default=None)
    reaches_now = period_end is None or period_end > now - timedelta(days=QUIET_DAYS)
    if reaches_now and (latest is None or now - latest > timedelta(days=QUIET_DAYS)):
        found.append(
            {
                "code": "no_recent_session",
                "text": f"No session recorded in the {QUIET_DAYS} days before now"
                + (" (none in this period)." if latest is None else "."),
            }
        )
    return found


def _self_report_gap(
    sessions: Sequence[SessionMood], checkins: Sequence[dict[str, Any]]
) -> tuple[float, int] | None:
    """Mean (self-reported - detected) valence over check-ins tied to a session with readings.

    'before' check-ins compare with the session's start mood, 'after' with its end mood.
    """
    by_id = {s.session_id: s for s in sessions}
    gaps = []
    for c in checkins:
        s = by_id.get(c["session_id"])
        if s is None:
            continue
        detected = s.start_valence if c["phase"] == "before" else s.end_valence
        if detected is not None:
            gaps.append(c["valence"] - detected)
    if len(gaps) < MIN_CHECKINS:
        return None
    return sum(gaps) / len(gaps), len(gaps)
