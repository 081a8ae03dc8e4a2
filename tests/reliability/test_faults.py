"""Faults under load against the real stack (tests/reliability/faults.py): a worker killed
mid-batch, the broker restarted, every database connection terminated, poison messages. For
each, no accepted frame or reading is lost or duplicated and refused uploads leave nothing.

These start the ASGI web server, Celery workers and (for Redis) a private redis-server, and
take about a minute each on 2 CPU cores, so they run in `make reliability` (RELIABILITY=1), not in
`make test`; tests/workers/ cover kill -9, a broker outage and lost messages there.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.reliability import faults
from tests.reliability.report import record

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("RELIABILITY") != "1",
        reason="fault injection under load runs in `make reliability` (RELIABILITY=1)",
    ),
]


@pytest.fixture
def stack_ready(settings: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    settings.CELERY_BROKER_URL = settings.REDIS_URL


def _record(report: dict[str, Any]) -> None:
    record(f"fault-{report['scenario']}", report)


def _assert_nothing_lost(report: dict[str, Any]) -> None:
    assert report["accepted"] > 0, report
    assert report["lost"] == 0, report
    assert report["duplicated"] == 0, report
    assert report["done_without_reading"] == 0, report
    assert report["rows_beyond_accepted"] == 0, "a refused upload left a row"
    assert report["unreferenced_files"] == 0, "a refused upload left a file"


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(stack_ready: None) -> None:
    report = faults.worker_killed_mid_batch()
    _record(report)
    _assert_nothing_lost(report)
    assert report["fault"]["frames_processing_at_kill"] >= 1, "the kill hit work in progress"
    assert report["users_saw"]["error_rate"] == 0, "users never notice a worker crash"


def test_redis_restart_refuses_uploads_clearly_and_loses_no_accepted_frame(
    stack_ready: None,
) -> None:
    report = faults.redis_restarted()
    _record(report)
    _assert_nothing_lost(report)
    refused = report["users_saw"]["refused"]
    assert set(refused) <= {"503 broker_unavailable"}, refused


def test_a_broker_that_forgets_every_message_loses_no_frame(stack_ready: None) -> None:
    report = faults.broker_lost_every_message()
    _record(report)
    _assert_nothing_lost(report)
    assert report["fault"]["messages_dropped"] >= 1, "the flush hit queued messages"


def test_terminated_database_connections_lose_nothing(stack_ready: None) -> None:
    report = faults.postgres_connections_terminated()
    _record(report)
    _assert_nothing_lost(report)
    assert sum(report["fault"]["killed"]) >= 1


def test_poison_messages_do_not_kill_the_worker(stack_ready: None) -> None:
    report = faults.poison_messages()
    _record(report)
    _assert_nothing_lost(report)
    assert report["worker_alive_same_pid"], "the worker survived every poison message"


def test_a_wrong_shaped_message_body_does_not_kill_the_worker(stack_ready: None) -> None:
    report = faults.wrong_shaped_message_body()
    _record(report)
    assert not report["worker_exited"], report
