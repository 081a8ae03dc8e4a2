"""What every benchmark shares: the environment it records, under one set of keys (commit, CPU
model and the flags that matter for speed, torch when importable, threads, how busy the
machine was), one percentile helper, and a PostgreSQL database of its own (a name ending in
`_bench`; any other name is refused before a connection is made)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ml.runinfo import environment

__all__ = [
    "ROOT",
    "bench_database_url",
    "environment",
    "fresh_database",
    "percentiles",
    "recreate_database",
]

ROOT = Path(__file__).resolve().parents[1]


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 / p95 / p99 / max of a sample (in its own unit), and its size."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50": pick(0.5),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": pick(1.0),
        "n": len(values),
    }


def bench_database_url(url: str, what: str) -> str:
    """The benchmark's own database next to the one `url` names: `<name>_<what>_bench`."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "moodtune"
    return urlunsplit(parts._replace(path=f"/{name}_{what}_bench"))


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's own database; refuses any name not ending in _bench."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.endswith("_bench"):
        raise SystemExit(f"refusing to touch database {name!r}: not a *_bench database")
    admin = psycopg.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def fresh_database(what: str, *, redis: bool) -> str:
    """The benchmark's own database next to the one DATABASE_URL names (`<name>_<what>_bench`),
    dropped and created afresh; the URL is returned and set as DATABASE_URL, so Django and the
    servers the benchmark starts use it. Exits unless DATABASE_URL is PostgreSQL (and, with
    `redis`, REDIS_URL is set)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or (redis and not os.environ.get("REDIS_URL")):
        needs = "DATABASE_URL (PostgreSQL) and REDIS_URL" if redis else "DATABASE_URL (PostgreSQL)"
        raise SystemExit(f"the {what} benchmark needs {needs}: it runs against real services")
    own = bench_database_url(url, what)
    recreate_database(own)
    os.environ["DATABASE_URL"] = own
    return own
