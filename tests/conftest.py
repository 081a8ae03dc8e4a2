"""Shared test configuration: data paths from ../shared (overridable by env var)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI runs property tests with a fixed seed (HYPOTHESIS_PROFILE=ci, set by .ci/run) so a landing
# does not hinge on luck; local runs explore new random examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture
def wsgi_in_test_transaction(db: None) -> Iterator[None]:
    """Requests sent straight to the WSGI app (the API fuzzers) run inside the test's
    transaction, so Django must not close the connection at the end of each request (its own
    test client disconnects the same handlers)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    """PBKDF2's deliberate slowness is pointless in tests and dominates their run time (servers
    that tests start keep the production hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    """Throttle counters and live-stream slots live in Redis when REDIS_URL is set, which
    outlives a test (and a test run) and is shared with the servers tests start: each test
    starts with none. (Only those keys: the broker's queues and heartbeats stay.)"""
    from django.conf import settings as django_settings

    cache = django_settings.CACHES["default"]
    if django_settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(django_settings.REDIS_URL)
        try:
            for pattern in (f"{cache.get('KEY_PREFIX', 'moodtune-cache')}:*", "moodtune:streams:*"):
                for key in client.scan_iter(match=pattern):
                    client.delete(key)
        finally:
            client.close()
    if not cache["BACKEND"].endswith("RedisCache"):
        from django.core.cache import cache as local_cache

        local_cache.clear()
    from backend.therapy import live

    live._local_slots.clear()
    yield


# Every process a test starts inherits this mark; any process still carrying it when the
# session ends was leaked by a test (left running, parented to init): the run fails.
RUN_MARK = "MOODTUNE_TEST_RUN"


def pytest_configure(config: pytest.Config) -> None:
    os.environ[RUN_MARK] = uuid.uuid4().hex


def marked_processes(mark: str) -> list[tuple[int, str]]:
    """(pid, command line) of every other process whose environment carries `mark`."""
    needle = f"{RUN_MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmd.strip()))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    mark = os.environ.get(RUN_MARK)
    if not mark or not Path("/proc").is_dir():
        return
    deadline = time.monotonic() + 10  # processes being stopped right now get a moment
    while (leaked := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    leaked = [(pid, cmd) for pid, cmd in leaked if cmd]  # zombies have no command line
    if not leaked:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  pid {pid}: {cmd[:200]}" for pid, cmd in leaked]
    message = "processes started by tests were left running (killed now):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    for pid, _ in leaked:
        with contextlib.suppress(OSError):  # it may have exited meanwhile
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
