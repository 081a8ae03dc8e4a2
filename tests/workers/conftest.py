"""Worker tests run against the real services: the test database (PostgreSQL) is shared with
worker subprocesses, and every run gets its own Celery queues on the Redis from REDIS_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backend.conftest import (  # noqa: F401  (personas and helpers, re-exported)
    admin_user,
    client_for,
    other_patient,
    other_therapist,
    patient,
    therapist,
)
from tests.workers import support

RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def shared_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def media_root(settings: Any, shared_media: Path) -> Path:
    """One MEDIA_ROOT for the test process and the worker subprocesses it starts."""
    settings.MEDIA_ROOT = shared_media
    return shared_media


@pytest.fixture(autouse=True)
def test_queues(settings: Any) -> dict[str, str]:
    """Queues of this test run only, so a stray message never reaches anyone else's worker."""
    settings.CELERY_FRAMES_QUEUE = f"test-frames-{RUN_ID}"
    settings.CELERY_LIGHT_QUEUE = f"test-light-{RUN_ID}"
    return {"frames": settings.CELERY_FRAMES_QUEUE, "light": settings.CELERY_LIGHT_QUEUE}


@pytest.fixture(scope="session")
def services_env(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    """Environment for subprocesses that share this test run's database and broker."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("worker integration tests need DATABASE_URL (PostgreSQL) and REDIS_URL")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "DATABASE_URL": support.database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_FRAMES_QUEUE": f"test-frames-{RUN_ID}",
        "CELERY_LIGHT_QUEUE": f"test-light-{RUN_ID}",
        "PYTHONUNBUFFERED": "1",
        "ML_DEVICE": "cpu",
    }


@pytest.fixture(scope="module")
def running_worker(
    services_env: dict[str, str], shared_media: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[support.Process]:
    """One worker subprocess for a test module (loading the model once)."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {**services_env, "MEDIA_ROOT": str(shared_media)}
    proc = support.worker(env, log, f"test-frames-{RUN_ID},test-light-{RUN_ID}", "w1").start()
    try:
        proc.wait_for_output("ready.")
        yield proc
    finally:
        proc.stop()
