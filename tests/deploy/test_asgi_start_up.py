"""The ASGI application's start-up (backend/config/asgi.py), in a fresh interpreter each: it
loads what the request path would import on first use and freezes the start-up heap, so that
the collector's full collections walk only what requests made (bench.capacity's web_gc_pauses
measures the pauses). Nothing is listening at the addresses given: start-up connects nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

PROBE = """
import gc, json, sys
import backend.config.asgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "unfrozen": len(gc.get_objects()),
    "modules": sorted(sys.modules),
}))
"""

# Imported by the request path on its first use (an upload, a stream, a browser sign-in).
REQUEST_PATH = {
    "backend.config.celery",
    "backend.therapy.live",
    "backend.therapy.views",
    "PIL.JpegImagePlugin",
    "django.contrib.sessions.backends.db",
    "django.contrib.messages.storage.fallback",
}
ONLY_WITH_REDIS_AND_POSTGRES = {
    "kombu.transport.redis",
    "redis.asyncio",
    "django.core.cache.backends.redis",
    "psycopg_pool",
}

NOWHERE = {
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    "DATABASE_POOL_SIZE": "4",
}


@pytest.mark.parametrize("services", ["embedded", "redis and postgresql"])
def test_start_up_preloads_the_request_path_and_freezes_its_heap(
    services: str, tmp_path: Path
) -> None:
    drop = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_POOL_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="backend.config.settings")
    if services != "embedded":
        env.update(NOWHERE)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    heap = json.loads(done.stdout.strip().splitlines()[-1])
    modules = set(heap["modules"])
    assert modules >= REQUEST_PATH, REQUEST_PATH - modules
    if services == "embedded":
        assert "kombu.transport.filesystem" in modules
        assert not ONLY_WITH_REDIS_AND_POSTGRES & modules
    else:
        assert modules >= ONLY_WITH_REDIS_AND_POSTGRES, ONLY_WITH_REDIS_AND_POSTGRES - modules
    # Start-up built tens of thousands of objects; all but what this probe made since are frozen.
    assert heap["frozen"] > 50_000
    assert heap["unfrozen"] < heap["frozen"] // 20
