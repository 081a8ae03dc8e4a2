"""Shared test configuration: data paths from ../shared (overridable by env var)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs property tests with a fixed seed (HYPOTHESIS_PROFILE=ci, set by .ci/run) so a landing
# does not hinge on luck; local runs explore new random examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture
def wsgi_in_test_transaction(db: None) -> Iterator[None]:
    """Requests sent straight to the WSGI app (the API fuzzers) run inside the test's
    transaction, so Django must not close the connection at the end of each request (its own
    test client disconnects the same handlers)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the shared cache (Redis when REDIS_URL is set), which outlives
    a test and is shared with the servers tests start: each test starts with none."""
    from django.conf import settings as django_settings

    cache = django_settings.CACHES["default"]
    if cache["BACKEND"].endswith("RedisCache"):
        import redis

        client = redis.Redis.from_url(cache["LOCATION"])
        try:
            for key in client.scan_iter(match=f"{cache['KEY_PREFIX']}:*"):
                client.delete(key)
        finally:
            client.close()
    else:
        from django.core.cache import cache as local_cache

        local_cache.clear()
    yield
