"""The Redis cache behind the throttles: one client per connection pool, whatever the number
of calls (Django's own makes a new redis.Redis for each), and values still round-trip."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from backend.common.cache import FailOpenRedisCache


def _cache(location: str) -> FailOpenRedisCache:
    return FailOpenRedisCache(location, {"KEY_PREFIX": f"test-cache-{uuid.uuid4().hex[:8]}"})


def test_every_call_shares_one_redis_client() -> None:
    cache = _cache("redis://127.0.0.1:6379/15")  # no command is sent: no server needed
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client()
    for _ in range(3):
        assert cache._cache.get_client(write=True) is writer
        assert cache._cache.get_client() is reader
    assert writer.connection_pool is reader.connection_pool  # one server: one pool


@pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL is not set: no Redis to talk to")
def test_values_round_trip_through_the_shared_client() -> None:
    cache = _cache(settings.REDIS_URL)
    cache.set("history", [1.5, 2.5], 30)
    assert cache.get("history") == [1.5, 2.5]
    cache.delete("history")
    assert cache.get("history") is None
