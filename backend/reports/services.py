"""Writes made by reports: storing rollups of settled sessions (the audit trail is written by
backend.common.audit).

No writer-side hook is needed: refresh_rollups runs at the start of each report request and
stores whatever sessions have settled since the last one (usually none, at the cost of one
indexed anti-join). If readings of a settled session are ever rewritten (re-analysis), call
forget_rollups(session_ids=...) and the next report recomputes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from backend.reports.models import MoodRollup, SessionSummary
from backend.reports.rollups import PENDING_STATUSES, SETTLE_GRACE, quarter_rows, session_figures
from backend.therapy.models import Frame, TherapySession

CHUNK = 100  # sessions per transaction when catching up (bounded memory and lock time)


def settled_unsummarised(patient_ids: Sequence[int]) -> list[int]:
    """Sessions that ended and have no pending frame, but have no stored summary yet."""
    return list(
        TherapySession.objects.filter(
            patient_id__in=patient_ids, ended_at__lte=timezone.now() - SETTLE_GRACE
        )
        .exclude(pk__in=SessionSummary.objects.filter(patient_id__in=patient_ids).values("pk"))
        .exclude(
            pk__in=Frame.objects.filter(
                session__patient_id__in=patient_ids, status__in=PENDING_STATUSES
            ).values("session_id")
        )
        .order_by("started_at")
        .values_list("pk", flat=True)
    )


def refresh_rollups(*, patient_ids: Iterable[int]) -> int:
    """Store rollups and summaries of newly settled sessions; returns how many were stored.

    Safe to run concurrently: both inserts ignore rows another request stored first, and the
    values they would have written are the same.
    """
    pending = settled_unsummarised(list(patient_ids))
    for i in range(0, len(pending), CHUNK):
        _store(pending[i : i + CHUNK])
    return len(pending)


@transaction.atomic
def _store(session_ids: list[int]) -> None:
    sessions = {
        s["pk"]: s
        for s in TherapySession.objects.filter(pk__in=session_ids).values(
            "pk", "patient_id", "started_at", "ended_at"
        )
    }
    MoodRollup.objects.bulk_create(
        [MoodRollup(**row) for row in quarter_rows(session_ids)],
        ignore_conflicts=True,
        batch_size=1000,
    )
    summaries = []
    for sid, f in session_figures(session_ids).items():
        s = sessions[sid]
        summaries.append(
            SessionSummary(
                session_id=sid,
                patient_id=s["patient_id"],
                started_at=s["started_at"],
                ended_at=s["ended_at"],
                frames_total=f.frames_total,
                frames_done=f.frames_done,
                frames_no_face=f.frames_no_face,
                frames_failed=f.frames_failed,
                readings=f.readings,
                mean_valence=f.mean_valence,
                mean_arousal=f.mean_arousal,
                start_valence=f.start_valence,
                start_arousal=f.start_arousal,
                end_valence=f.end_valence,
                end_arousal=f.end_arousal,
            )
        )
    SessionSummary.objects.bulk_create(summaries, ignore_conflicts=True)


@transaction.atomic
def forget_rollups(*, session_ids: Iterable[int]) -> None:
    """Drop stored rollups so the next report recomputes them from the readings."""
    ids = list(session_ids)
    MoodRollup.objects.filter(session_id__in=ids).delete()
    SessionSummary.objects.filter(session_id__in=ids).delete()
