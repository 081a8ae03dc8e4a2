"""Django's Redis cache, failing open: while Redis is unreachable a read misses and a write is
dropped (logged), instead of turning every request that consults a throttle into a 500. The
throttles then allow the request; uploads still get their clear 503 from the broker check, and
the login lockout lives in the database, so it holds during the outage."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class FailOpenRedisCache(RedisCache):
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
