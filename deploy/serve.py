"""The production web server: uvicorn serving the ASGI application (backend.config.asgi).

    python deploy/serve.py                 # what the web container runs (deploy/entrypoint.py web)
    make serve                             # the same server and settings, on 127.0.0.1:8000

Why ASGI, and why uvicorn alone: the live-events endpoint keeps a stream open per patient and
per therapist watching one. Under a sync server each open stream held a thread (the sixth
stalled every request for ~23 s with 3 workers x 2 threads); under ASGI a stream is a coroutine
waiting on one Redis pub/sub connection per process. uvicorn (with uvloop and httptools) is a
maintained ASGI server that also supervises N worker processes itself (`--workers`, restarting
any that die), so gunicorn is no longer needed in front of it. Alternatives (gunicorn with the
uvicorn-worker class, granian) were not measured against it here.

Settings (environment): WEB_BIND (host:port, default 0.0.0.0:8000; `make serve` passes
SERVE_BIND, default 127.0.0.1:8000), WEB_CONCURRENCY (worker processes, default 2),
WEB_GRACEFUL_SECONDS (on SIGTERM, open streams get this long before they are closed; browsers
reconnect to another replica and resume from Last-Event-ID; default 5), FORWARDED_ALLOW_IPS
(the proxies whose X-Forwarded-* are trusted, default 127.0.0.1), DATABASE_POOL_SIZE (PostgreSQL
connections per worker process, default 4: a psycopg pool, since under ASGI each request runs
in a thread of its own and a per-thread connection would be opened, and left behind, per request;
backend/config/asgi.py runs as many request threads as the pool has connections).

Why 4 and not 10: the request threads of one process share one GIL, and the views are mostly
Python; more threads than the work can use only take turns on it. `python -m bench.capacity
--patients 50 --watchers 250 --seconds 20 --fps 2 --web-processes 2 --json` (100 uploads/s
offered) with DATABASE_POOL_SIZE=10 and =4, nine alternating runs each at round 5's code on a
2-core AMD EPYC (a virtual machine whose figures swing from run to run: see deploy/CAPACITY.md):
medians of 90.4 against 99.3 uploads/s accepted, web CPU 14.0 against 12.8 ms per upload,
upload p50 364 against 123 ms, p99 847 against 706 ms: neither holds the p99 target there.
At 50 uploads/s (--fps 1) the two did not differ beyond the noise; 2 and 3 threads measured
like 4.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_POOL_SIZE = 4


def command(*, bind: str, workers: int) -> list[str]:
    host, _, port = bind.rpartition(":")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "backend.config.asgi:application",
        "--host",
        host or "127.0.0.1",
        "--port",
        port,
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--lifespan",
        "off",  # Django's ASGI handler has no lifespan protocol
        "--proxy-headers",
        "--forwarded-allow-ips",
        os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "--timeout-keep-alive",
        "5",
        "--timeout-graceful-shutdown",
        os.environ.get("WEB_GRACEFUL_SECONDS", "5"),
        "--no-server-header",
        "--log-level",
        os.environ.get("LOG_LEVEL", "INFO").lower(),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", help="host:port (default WEB_BIND, or SERVE_BIND with --local)")
    parser.add_argument(
        "--local", action="store_true", help="`make serve`: SERVE_BIND, default 127.0.0.1:8000"
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    args = parser.parse_args(argv)
    bind = args.bind or (
        os.environ.get("SERVE_BIND", "127.0.0.1:8000")
        if args.local
        else os.environ.get("WEB_BIND", "0.0.0.0:8000")
    )
    argv_ = command(bind=bind, workers=args.workers)
    os.environ.setdefault("DATABASE_POOL_SIZE", str(DEFAULT_POOL_SIZE))
    sys.stdout.flush()
    os.execv(argv_[0], argv_)  # noqa: S606 -- our own fixed argv, the server replaces us


if __name__ == "__main__":
    main()
