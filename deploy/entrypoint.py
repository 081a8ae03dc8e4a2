"""Container entrypoint for both images.

    python deploy/entrypoint.py web      wait for the database, migrate (under a PostgreSQL
                                         advisory lock, so N web replicas starting together
                                         migrate once), check (--deploy in production),
                                         collect static files, then exec the ASGI server (uvicorn)
    python deploy/entrypoint.py worker   wait for the database, check, then exec celery
    python deploy/entrypoint.py manage ARGS...   any manage.py command (one-off jobs, cron)

`--prepare-only` runs the start-up steps and exits without exec'ing the server: the tests run
the real steps against SQLite in a temporary VAR_DIR that way. Plain Python, no shell, so the
same file runs in the images and here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

# pg_advisory_lock key shared by every container of this project: one migrator at a time.
MIGRATION_LOCK_KEY = 7_304_151


def log(message: str) -> None:
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


def wait_for_database(timeout: float) -> None:
    """PostgreSQL may still be starting when the containers come up: retry, then fail loudly."""
    from django.db import connection
    from django.db.utils import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(
                    f"entrypoint: database unreachable after {timeout:.0f}s: {exc}"
                ) from None
            log("waiting for the database ...")
            time.sleep(1.0)


def migrate() -> None:
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False, verbosity=1)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    try:
        call_command("migrate", interactive=False, verbosity=1)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def check(*, deploy: bool) -> None:
    """System checks (errors stop the boot); in production also the deploy security checks,
    where a mere warning (no HSTS, insecure cookies, DEBUG on...) stops the boot too."""
    from django.core.management import call_command

    call_command("check")
    if deploy:
        call_command("check", deploy=True, tags=["security"], fail_level="WARNING")


def prepare(role: str) -> None:
    import django
    from django.conf import settings

    django.setup()
    wait_for_database(float(os.environ.get("DB_WAIT_SECONDS", "60")))
    if role == "web":
        migrate()
        check(deploy=settings.PRODUCTION)
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
    else:
        check(deploy=False)


def server_command(role: str) -> list[str]:
    """The argv the container ends up running (tests assert each program is installed)."""
    py = sys.executable
    if role == "web":
        # the ASGI server (deploy/serve.py documents why uvicorn and its settings)
        return [py, str(ROOT / "deploy" / "serve.py")]
    frames = os.environ.get("CELERY_FRAMES_QUEUE", "frames")
    light = os.environ.get("CELERY_LIGHT_QUEUE", "light")
    # One solo process per GPU (a prefork parent must never touch CUDA: workers/README.md);
    # prefork with WORKER_CONCURRENCY processes on CPU.
    cuda = os.environ.get("ML_DEVICE", "auto") == "cuda"
    pool = os.environ.get("WORKER_POOL", "solo" if cuda else "prefork")
    return [
        py,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--loglevel",
        os.environ.get("LOG_LEVEL", "INFO"),
        "--queues",
        os.environ.get("WORKER_QUEUES", f"{frames},{light}"),
        "--pool",
        pool,
        "--concurrency",
        os.environ.get("WORKER_CONCURRENCY", "1"),
        "--hostname",
        "worker@%h",
        "--without-gossip",
        "--without-mingle",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manage"]:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", *argv[1:]])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", choices=("web", "worker", "manage"))
    parser.add_argument("--prepare-only", action="store_true", help="run start-up steps, exit")
    args = parser.parse_args(argv)
    prepare(args.role)
    if args.prepare_only:
        log(f"{args.role}: start-up steps done")
        return 0
    command = server_command(args.role)
    log("exec " + " ".join(command))
    os.execv(command[0], command)  # noqa: S606 (argv list, no shell)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
