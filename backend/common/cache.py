"""Django's Redis cache, failing open: while Redis is unreachable a read misses and a write is
dropped (logged), instead of turning every request that consults a throttle into a 500. The
throttles then allow the request; uploads still get their clear 503 from the broker check, and
the login lockout lives in the database, so it holds during the outage.

One Redis client (and so one connection pool) per process and location: Django keeps a cache
object per request context, and under ASGI every request has a context of its own, so Django's
own RedisCache opened a fresh Redis connection on every request that touched a throttle. And one
redis.Redis per pool: Django builds a new one (with its table of ~170 response callbacks) for
every cache call, two per throttled request; the client is thread-safe and holds no state of
its own, so one per pool serves every thread."""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_clients: dict[str, RedisCacheClient] = {}
_clients_lock = threading.Lock()


class OneClientPerPool(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if (client := self._clients.get(write)) is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = OneClientPerPool

    @cached_property
    def _cache(self) -> RedisCacheClient:
        # redis-py's pools are thread-safe and re-made after a fork (they check the pid)
        key = repr((self._servers, sorted(self._options.items())))
        with _clients_lock:
            if key not in _clients:
                _clients[key] = self._class(self._servers, **self._options)
            return _clients[key]

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            logger.warning("cache unavailable (read of %s missed): %s", key, exc)
            return default

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as exc:
            logger.warning("cache unavailable (write of %s dropped): %s", key, exc)
