"""Is the system alive? Database, broker, worker heartbeats and queue depth, for /api/health.

Workers write a heartbeat every few seconds: a Redis key with a TTL when the broker is Redis
(shared by every machine), else a file under VAR_DIR/heartbeats (the embedded one-machine
mode). The health answer carries only states, counts and ages: no host names, URLs or errors.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "moodtune:worker:heartbeat:{}"
HEARTBEAT_SECONDS = 10.0
HEARTBEAT_STALE_SECONDS = 3 * HEARTBEAT_SECONDS


def broker_is_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://"))


@functools.cache
def _redis_for(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)


def broker_redis() -> Any:
    """A client for the broker's Redis (shared across machines), or None when it is not Redis."""
    if not broker_is_redis():
        return None
    return _redis_for(str(settings.CELERY_BROKER_URL))


def _heartbeat_dir() -> Path:
    return Path(settings.VAR_DIR) / "heartbeats"


def write_heartbeat(*, worker: str, queues: list[str]) -> None:
    """Called by each worker process every HEARTBEAT_SECONDS."""
    now = time.time()
    client = broker_redis()
    if client is not None:
        ttl = int(HEARTBEAT_STALE_SECONDS)
        client.set(HEARTBEAT_KEY.format(worker), f"{now}|{','.join(queues)}", ex=ttl)
        return
    folder = _heartbeat_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / worker.replace("/", "_")).write_text(f"{now}|{','.join(queues)}")


def read_heartbeats() -> list[tuple[float, list[str]]]:
    """(age in seconds, queues) of every worker seen within HEARTBEAT_STALE_SECONDS."""
    now = time.time()
    raw: list[str] = []
    client = broker_redis()
    if client is not None:
        keys = list(client.scan_iter(match=HEARTBEAT_KEY.format("*"), count=100))
        raw = [v.decode() for v in client.mget(keys) if v] if keys else []
    elif _heartbeat_dir().is_dir():
        raw = [p.read_text() for p in _heartbeat_dir().iterdir() if p.is_file()]
    beats = []
    for value in raw:
        stamp, _, queues = value.partition("|")
        age = now - float(stamp)
        if age <= HEARTBEAT_STALE_SECONDS:
            beats.append((age, [q for q in queues.split(",") if q]))
    return beats


def queue_depths() -> dict[str, int]:
    """Messages waiting in the frames and light queues (not counting ones a worker holds)."""
    queues = [settings.CELERY_FRAMES_QUEUE, settings.CELERY_LIGHT_QUEUE]
    client = broker_redis()
    if client is not None:
        pipe = client.pipeline()
        for q in queues:
            pipe.llen(q)
        return dict(zip(queues, (int(n) for n in pipe.execute()), strict=True))
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return {q: sum(1 for n in names if n.endswith(f".{q}.msg")) for q in queues}


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:
        logger.error("health: database check failed: %s", exc)
        return False


def check_broker() -> bool:
    client = broker_redis()
    try:
        if client is not None:
            return bool(client.ping())
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
        return folder is None or Path(folder).is_dir() or not Path(folder).exists()
    except Exception as exc:
        logger.error("health: broker check failed: %s", exc)
        return False


def health() -> tuple[dict[str, Any], bool]:
    """The health document and whether the service can take work (database and broker up)."""
    database, broker = check_database(), check_broker()
    beats = read_heartbeats() if broker else []
    depths = queue_depths() if broker else {}
    frames_workers = sum(1 for _, q in beats if settings.CELERY_FRAMES_QUEUE in q)
    doc: dict[str, Any] = {
        "database": "ok" if database else "down",
        "broker": "ok" if broker else "down",
        "workers": {
            "alive": len(beats),
            "frames": frames_workers,
            "newest_heartbeat_age_s": round(min(a for a, _ in beats), 1) if beats else None,
        },
        "queues": depths,
    }
    ok = database and broker
    doc["status"] = "down" if not ok else ("ok" if frames_workers else "degraded")
    return doc, ok


class HealthView(APIView):
    """GET /api/health: 200 when the database and broker answer (status 'degraded' when no
    worker takes frames), 503 otherwise. Unauthenticated, for load balancers and monitors."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        doc, ok = health()
        return Response(doc, status=200 if ok else 503)
