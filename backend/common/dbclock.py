"""The database's clock. Leases (who may take over a frame, when a queued frame's message
counts as lost) compare times written by different hosts; reading them all from the one
database clock means clock skew between worker hosts cannot shift a takeover."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection


def db_now() -> datetime:
    """The current time on the database server (aware, UTC)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")  # now() would be the transaction's start
            (value,) = cursor.fetchone()
            return value.astimezone(UTC)
        if connection.vendor == "sqlite":
            cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
            (text,) = cursor.fetchone()
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    raise NotImplementedError(f"no database clock for {connection.vendor}")
