"""The real stack on loopback for reliability runs: uvicorn (ASGI) web + Celery worker subprocesses
(tests/workers/support.py's launchers) on private queues, against the PostgreSQL database this
process uses and either the given Redis or a private redis-server on its own port (so a Redis
restart never touches the shared server on 6379).

Faults it can inject: kill -9 a worker, kill -9 and restart its own redis-server (append-only
file, like the compose service), terminate every PostgreSQL backend of the database (the shared
PostgreSQL server is never restarted: pg_terminate_backend on this database's connections is the
stand-in for a server restart as the application sees it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.workers import support

LOOPBACK = "127.0.0.1"


@dataclass
class Stack:
    tmp: Path
    workers: int = 1
    web_workers: int = 2
    own_redis_port: int | None = None  # run a private redis-server on this port
    worker_env: dict[str, str] = field(default_factory=dict)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        from django.conf import settings
        from django.db import connection

        self.tmp.mkdir(parents=True, exist_ok=True)
        self.media = self.tmp / "media"
        self.media.mkdir(exist_ok=True)
        self.queues = (f"rel-frames-{self.run}", f"rel-light-{self.run}")
        redis_url = (
            f"redis://{LOOPBACK}:{self.own_redis_port}/0"
            if self.own_redis_port
            else settings.REDIS_URL
        )
        if not redis_url or connection.vendor != "postgresql":
            raise RuntimeError("the reliability stack needs PostgreSQL and Redis")
        self.redis_url = redis_url
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backend.config.settings",
            "DATABASE_URL": support.database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_FRAMES_QUEUE": self.queues[0],
            "CELERY_LIGHT_QUEUE": self.queues[1],
            "MEDIA_ROOT": str(self.media),
            "UPLOAD_RATE": "100000/min",
            "LOG_LEVEL": "WARNING",
            "ML_DEVICE": os.environ.get("ML_DEVICE", "cpu"),
            "PYTHONUNBUFFERED": "1",
        }
        self.port = support.free_port()
        self.web: support.Process | None = None
        self.worker_procs: list[support.Process | None] = [None] * self.workers
        self.redis: subprocess.Popen[bytes] | None = None

    # --- lifecycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def configure_this_process(self, settings: Any) -> None:
        """Make this process (the test) enqueue and store like the stack does."""
        settings.MEDIA_ROOT = self.media
        settings.CELERY_FRAMES_QUEUE, settings.CELERY_LIGHT_QUEUE = self.queues

    def start(self) -> Stack:
        if self.own_redis_port:
            self.start_redis()
        self.web = support.web(self.env, self.tmp / "web.log", self.port, self.web_workers).start()
        for i in range(self.workers):
            self.start_worker(i)
        support.wait_listening(self.web, self.port)
        for proc in self.worker_procs:
            assert proc is not None
            proc.wait_for_output("ready.", timeout=180)
        return self

    def start_worker(self, i: int) -> support.Process:
        log = self.tmp / f"worker{i}.log"
        after = len(log.read_text(errors="replace")) if log.exists() else 0
        env = {**self.env, **self.worker_env}
        proc = support.worker(env, log, ",".join(self.queues), f"rel{i}-{self.run}").start()
        proc.wait_for_output("ready.", timeout=180, after=after)
        self.worker_procs[i] = proc
        return proc

    def kill_worker(self, i: int) -> None:
        proc = self.worker_procs[i]
        assert proc is not None
        proc.kill9()

    def worker_log(self, i: int) -> str:
        return (self.tmp / f"worker{i}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in [self.web, *self.worker_procs]:
            if proc is not None:
                proc.stop()
        self._purge_queues()
        self.stop_redis()

    def _purge_queues(self) -> None:
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            client.delete(*self.queues)
        except Exception:  # best-effort cleanup of this run's queues
            pass

    # --- private Redis ----------------------------------------------------------------

    def start_redis(self) -> None:
        assert self.own_redis_port
        data = self.tmp / "redis"
        data.mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind", LOOPBACK, "--port", str(self.own_redis_port),
                "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--protected-mode", "yes",
            ],
            stdout=open(self.tmp / "redis.log", "ab"),  # noqa: SIM115 (owned by the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        import redis

        while True:
            try:
                redis.Redis(host=LOOPBACK, port=self.own_redis_port, socket_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop_redis(self, sig: int = signal.SIGTERM) -> None:
        if self.redis is not None and self.redis.poll() is None:
            os.killpg(self.redis.pid, sig)
            self.redis.wait(timeout=20)
        self.redis = None

    def restart_redis(self, *, down_seconds: float = 3.0) -> None:
        """kill -9 (no graceful save), stay down a while, start again on the same files."""
        self.stop_redis(signal.SIGKILL)
        time.sleep(down_seconds)
        self.start_redis()

    # --- PostgreSQL -------------------------------------------------------------------

    def terminate_database_connections(self) -> int:
        """pg_terminate_backend every other connection to this database: web, workers, and
        the harness's other threads (they reconnect). Its own connection is closed after."""
        from django.db import connection

        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                row = cursor.fetchone()
        finally:
            connection.close()
        return int(row[0]) if row else 0
