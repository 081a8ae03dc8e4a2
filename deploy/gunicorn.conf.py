"""gunicorn settings for the web container (read with `gunicorn --config`).

Every value can be overridden from the environment (documented in .env.example).
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: uploads are small (FRAME_MAX_BYTES) and the slow part happens in Celery.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Only the reverse proxy can reach gunicorn (compose network), so trust its X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
limit_request_line = 4094
limit_request_fields = 100
if os.path.isdir("/dev/shm"):  # noqa: S108 (gunicorn's documented heartbeat location)
    worker_tmp_dir = "/dev/shm"  # noqa: S108 (heartbeat files on tmpfs: no disk stalls)
