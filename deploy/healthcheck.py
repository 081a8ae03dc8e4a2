"""Docker HEALTHCHECK for both images: exit 0 when healthy, 1 otherwise.

    python deploy/healthcheck.py web      GET /api/health on the local web server: 200 = healthy
    python deploy/healthcheck.py worker   Celery ping answered by this container's worker

The web check sends the Host and X-Forwarded-Proto a request through the proxy would carry, so
ALLOWED_HOSTS and SECURE_SSL_REDIRECT answer it like real traffic.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path


def web() -> bool:
    bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
    port = bind.rsplit(":", 1)[-1]
    host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip() or "localhost"
    host = host.lstrip(".").replace("*", "health")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/health",
        headers={"Host": host, "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def worker() -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    from workers.app import app

    replies = app.control.ping(destination=[f"worker@{socket.gethostname()}"], timeout=5.0)
    return bool(replies)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else "web"
    sys.exit(0 if {"web": web, "worker": worker}[role]() else 1)
