"""A therapist's caseload at a glance: each current patient with the last session, the recent
trend and flags. A fixed number of queries whatever the caseload size (no per-patient loop
against the database, except for sessions still running)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from backend.accounts.models import User
from backend.reports import flags as report_flags
from backend.reports.selectors import checkins, session_moods, session_trend
from backend.therapy.models import TherapySession

RECENT = timedelta(days=90)


def caseload(patients: list[User], *, flag_sessions: int = 3) -> list[dict[str, Any]]:
    now = timezone.now()
    since = now - RECENT
    ids = [p.pk for p in patients]
    # The last session ever (it may be older than the recent window).
    last_ids = dict(
        User.objects.filter(pk__in=ids)
        .annotate(
            last_session=Subquery(
                TherapySession.objects.filter(patient=OuterRef("pk"))
                .order_by("-started_at")
                .values("pk")[:1]
            )
        )
        .values_list("pk", "last_session")
    )
    recent = session_moods(ids, since, None)
    recent_ids = {s.session_id for s in recent}
    older = [sid for sid in last_ids.values() if sid is not None and sid not in recent_ids]
    lasts = {s.session_id: s for s in recent}
    if older:
        lasts.update({s.session_id: s for s in session_moods(ids, session_ids=older)})
    by_patient: dict[int, list[Any]] = {pid: [] for pid in ids}
    for s in recent:
        by_patient[s.patient_id].append(s)
    reported: dict[int, list[dict[str, Any]]] = {pid: [] for pid in ids}
    for c in checkins(ids, since, now + timedelta(days=1)):
        reported[c["patient_id"]].append(c)
    rows = []
    for p in sorted(patients, key=lambda u: (u.last_name, u.first_name, u.username)):
        sessions = by_patient[p.pk]
        last_id = last_ids.get(p.pk)
        last = lasts.get(last_id) if last_id is not None else None
        rows.append(
            {
                "patient": {
                    "id": p.pk,
                    "username": p.username,
                    "name": p.get_full_name(),
                    "time_zone": p.time_zone,
                },
                "last_session": last.as_json() if last else None,
                "sessions_last_90_days": len(sessions),
                "recent_trend": session_trend(sessions, since),
                "flags": report_flags.observe(
                    sessions, reported[p.pk], flag_sessions=flag_sessions, now=now
                ),
            }
        )
    return rows
