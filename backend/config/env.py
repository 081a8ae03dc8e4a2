"""Typed readers for environment variables that reject malformed values loudly.

A typo in production configuration should stop the boot, not silently fall back.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


class ImproperlyConfiguredEnv(Exception):
    pass


_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | object = _MISSING) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfiguredEnv(f"environment variable {name} is required")
        return str(default)
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} is below the minimum {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def parse_database_url(url: str, *, base_dir: Path, pool_size: int = 0) -> dict[str, object]:
    """postgres://user:pass@host:port/name or sqlite:///relative/or/absolute/path.

    `pool_size` > 0 (PostgreSQL only): a psycopg connection pool of at most that many
    connections per process, for the ASGI web server, where every request runs in a thread of
    its own and a persistent per-thread connection would be opened afresh (and left behind) on
    each request. 0: one persistent connection per thread (workers, management commands).
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw_path = unquote(parsed.path)
        # sqlite:///var/db.sqlite3 -> relative to the repo; sqlite:////abs/path -> absolute.
        path = Path(raw_path[1:]) if raw_path.startswith("/") else Path(raw_path)
        if not path.is_absolute():
            path = base_dir / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if parsed.scheme in ("postgres", "postgresql"):
        name = parsed.path.lstrip("/")
        if not name:
            raise ImproperlyConfiguredEnv(f"DATABASE_URL {url!r} names no database")
        options: dict[str, object] = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        if pool_size:
            # a request waits at most `timeout` seconds for a free connection, then fails loudly
            options["pool"] = {"min_size": 2, "max_size": pool_size, "timeout": 10}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(name),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 0 if pool_size else 60,  # the pool keeps them; Django must not
            "CONN_HEALTH_CHECKS": not pool_size,
            "OPTIONS": options,
        }
    raise ImproperlyConfiguredEnv(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgres:// or sqlite:///)"
    )
