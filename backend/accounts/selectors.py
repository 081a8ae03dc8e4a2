"""Reads about accounts that hot paths make many times a second, each as one statement.

`may_follow_live` is asked by every open live-events stream at least every
`live.REVALIDATE_SECONDS` (300 streams: 30 times a second). Through the ORM it took three
queries, each compiled on every call (the viewer, then their consent or their assignment).
Here it is one statement: web CPU per upload under `python -m bench.capacity` (300 streams)
went from 26.3 / 26.2 to 23.2 / 21.3 ms in alternating runs (deploy/CAPACITY.md). The rules
are the models' (`User.has_active_consent`, `User.is_current_therapist_of`,
`ConsentRecord.objects.current()`, `Assignment.objects.active()`);
tests/backend/test_live_access_query.py holds this statement to their answer in every state
of the viewer, the consent and the assignment.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from backend.accounts.models import Assignment, ConsentRecord, Role, User
from backend.common.sql import column, table


@cache  # one database engine per process
def _may_follow_live_sql() -> str:
    user, consent, assignment = table(User), table(ConsentRecord), table(Assignment)
    # Only quoted names from the models go in; every value is a parameter (may_follow_live).
    return (
        f"SELECT CASE WHEN u.{column(User, 'id')} = %s"  # noqa: S608
        f" THEN (u.{column(User, 'role')} = %s AND EXISTS ("
        f"SELECT 1 FROM {consent} c"
        f" WHERE c.{column(ConsentRecord, 'patient')} = u.{column(User, 'id')}"
        f" AND c.{column(ConsentRecord, 'notice_version')} = %s"
        f" AND c.{column(ConsentRecord, 'withdrawn_at')} IS NULL))"
        f" ELSE (u.{column(User, 'role')} = %s AND EXISTS ("
        f"SELECT 1 FROM {assignment} a"
        f" WHERE a.{column(Assignment, 'therapist')} = u.{column(User, 'id')}"
        f" AND a.{column(Assignment, 'patient')} = %s"
        f" AND a.{column(Assignment, 'started_at')} <= %s"
        f" AND (a.{column(Assignment, 'ended_at')} IS NULL"
        f" OR a.{column(Assignment, 'ended_at')} > %s))) END"
        f" FROM {user} u WHERE u.{column(User, 'id')} = %s AND u.{column(User, 'is_active')}"
    )


def may_follow_live(*, viewer_id: int, patient_id: int) -> bool:
    """Whether the viewer may still follow the patient's live session: the patient themself
    while their consent to the notice in force stands, or a therapist while assigned to them.
    An account that is gone or deactivated may not."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _may_follow_live_sql(),
            [
                patient_id,
                str(Role.PATIENT),  # the value: psycopg would send an enum by name
                settings.CONSENT_NOTICE_VERSION,
                str(Role.THERAPIST),
                patient_id,
                now,
                now,
                viewer_id,
            ],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
