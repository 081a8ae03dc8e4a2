"""The production web server (deploy/serve.py: uvicorn + the ASGI app) against real PostgreSQL
and Redis: 30 live-event streams held open while a sign-in and an upload still answer within
a second, the per-user stream cap, a therapist's stream ended by the end of the assignment,
a dropped client's stream freeing its slot, and SIGTERM closing every stream within seconds."""

from __future__ import annotations

import io
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from rest_framework.authtoken.models import Token

from backend.accounts import services as account_services
from backend.accounts.models import Assignment, Role, User
from backend.therapy.models import TherapySession
from deploy.serve import DEFAULT_POOL_SIZE
from tests.backend.conftest import PASSWORD
from tests.workers import support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
STREAMS_PER_PATIENT = 3


@dataclass
class Stream:
    """One open GET /api/sessions/{id}/events, read by its own client thread."""

    url: str
    token: str
    status: int | None = None
    text: str = ""
    connected: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        headers = {"Authorization": f"Token {self.token}", "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=60) as response:
                self.status = response.status_code
                for chunk in response.iter_text():
                    self.text += chunk
                    self.connected.set()
        except httpx.HTTPError:
            pass
        finally:
            self.connected.set()
            self.closed.set()


@pytest.fixture
def server(services_env: dict[str, str], tmp_path: Any, settings: Any) -> Any:
    # a media folder of its own: the frame uploaded here is never analysed (no worker), and
    # other tests assert that the shared media folder holds no leftover raw image
    settings.MEDIA_ROOT = tmp_path / "media"
    port = support.free_port()
    env = {
        **services_env,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LIVE_MAX_STREAMS_PER_USER": str(STREAMS_PER_PATIENT),
        "WEB_GRACEFUL_SECONDS": "2",
    }
    web = support.web(env, tmp_path / "web.log", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        support.wait_healthy(web, base)
        yield base, web.proc
    finally:
        web.stop(signal.SIGKILL)


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def test_thirty_streams_do_not_stall_the_server_and_end_when_they_must(server, patient):
    base, proc = server
    patients = [patient] + [
        account_services.create_user(username=f"p{i}", password=PASSWORD, role=Role.PATIENT)
        for i in range(9)
    ]
    sessions = []
    for person in patients:
        account_services.grant_consent(patient=person)
        sessions.append(TherapySession.objects.create(patient=person))
    therapist = account_services.create_user(username="t0", password=PASSWORD, role="therapist")
    account_services.assign(therapist=therapist, patient=patient)
    tokens = {p.pk: Token.objects.create(user=p).key for p in [*patients, therapist]}
    # the tests hash with MD5 for speed; the server knows only the production hashers
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    User.objects.filter(username="p3").update(password=hashed)

    streams = [
        Stream(f"{base}/api/sessions/{s.pk}/events", tokens[s.patient_id]).start()
        for s in sessions
        for _ in range(STREAMS_PER_PATIENT)
    ]
    for stream in streams:
        assert stream.connected.wait(20), "a stream never started"
    assert [s.status for s in streams] == [200] * 30
    assert not any(s.closed.is_set() for s in streams)

    # meanwhile the server answers everyone else at once
    login, login_s = _timed(
        lambda: httpx.post(
            f"{base}/api/auth/login", json={"username": "p3", "password": PASSWORD}, timeout=10
        )
    )
    image = io.BytesIO(support.face_jpeg())
    upload, upload_s = _timed(
        lambda: httpx.post(
            f"{base}/api/sessions/{sessions[0].pk}/frames",
            headers={"Authorization": f"Token {tokens[patient.pk]}"},
            files={"image": ("f.jpg", image, "image/jpeg")},
            timeout=10,
        )
    )
    assert login.status_code == 200 and login_s < 1.0, (login.status_code, login_s)
    assert upload.status_code == 202 and upload_s < 1.0, (upload.status_code, upload_s)

    # one more stream for a patient who holds the maximum: a clear 429
    extra = Stream(f"{base}/api/sessions/{sessions[0].pk}/events", tokens[patient.pk]).start()
    assert extra.closed.wait(10) and extra.status == 429 and "too_many_streams" in extra.text

    # the therapist follows the session; ending the assignment ends that stream within seconds
    watcher = Stream(f"{base}/api/sessions/{sessions[0].pk}/events", tokens[therapist.pk])
    watcher.start()
    assert watcher.connected.wait(10) and watcher.status == 200
    ended_at = time.monotonic()
    account_services.end_assignment(assignment=Assignment.objects.get(therapist=therapist))
    assert watcher.closed.wait(5), "the stream outlived the assignment"
    assert '"reason":"access_ended"' in watcher.text
    assert time.monotonic() - ended_at < 5

    # SIGTERM: every stream is closed within a few seconds, and the server exits
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) is not None
    for stream in streams:
        assert stream.closed.wait(5)
    assert time.monotonic() - stopped_at < 10


def test_requests_reuse_pooled_database_and_redis_connections(server, patient, services_env):
    """Under ASGI each request runs in a thread and a context of its own: without the pool each
    request opened a PostgreSQL connection (its cost on every request) and a burst of requests
    opened as many as were in flight, until PostgreSQL refused more (500s in bench.capacity);
    and Django's per-context cache object opened a Redis connection per throttled request."""
    base, _ = server
    token = Token.objects.create(user=patient).key
    session = TherapySession.objects.create(patient=patient)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        ours = {cursor.fetchone()[0]}  # the test's; the sampler thread adds its own below

    def server_pids() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            return {row[0] for row in cursor.fetchall()} - ours

    def get(_: int) -> int:
        return client.get(f"/api/sessions/{session.pk}").status_code

    headers = {"Authorization": f"Token {token}"}

    def upload() -> int:  # consults the patient's upload throttle (Redis cache)
        files = {"image": ("f.jpg", io.BytesIO(face), "image/jpeg")}
        return client.post(f"/api/sessions/{session.pk}/frames", files=files).status_code

    account_services.grant_consent(patient=patient)
    face = support.face_jpeg()
    broker = redis.Redis.from_url(services_env["REDIS_URL"])
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        assert [get(i) for i in range(20)] + [upload()] == [200] * 20 + [202]
        before = server_pids()
        redis_before = broker.info("stats")["total_connections_received"]
        assert [upload() for _ in range(10)] == [202] * 10
        assert [get(i) for i in range(20)] == [200] * 20
        assert server_pids() == before and before, "requests opened connections of their own"
        assert broker.info("stats")["total_connections_received"] - redis_before <= 2

        seen: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                seen.append(len(server_pids()))
                time.sleep(0.01)

        sampler = threading.Thread(target=lambda: (sample(), connection.close()))
        sampler.start()
        try:
            with ThreadPoolExecutor(40) as burst:
                assert set(burst.map(get, range(200))) == {200}
        finally:
            done.set()
            sampler.join()
    assert max(seen) <= DEFAULT_POOL_SIZE, max(seen)


def _raw_stream(base: str, session_id: int, token: str) -> Any:
    """An events stream on a plain socket, read up to its first line, left open."""
    import socket

    from bench.rawhttp import build_request

    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    headers = {"Authorization": f"Token {token}", "Accept": "text/event-stream"}
    path = f"/api/sessions/{session_id}/events"
    sock.sendall(build_request("GET", path, host=host, headers=headers))
    head = b""
    while b"retry:" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


def test_a_stream_whose_client_goes_away_frees_its_slot_within_seconds(server, patient):
    """The disconnect watch: a browser tab closed mid-stream must not keep counting against
    the patient's cap (the next stream would be refused with 429 until the slot expired)."""
    base, _ = server
    account_services.grant_consent(patient=patient)
    session = TherapySession.objects.create(patient=patient)
    token = Token.objects.create(user=patient).key
    held = [_raw_stream(base, session.pk, token) for _ in range(STREAMS_PER_PATIENT)]
    extra = Stream(f"{base}/api/sessions/{session.pk}/events", token).start()
    assert extra.closed.wait(10) and extra.status == 429  # the cap is full
    held.pop().close()  # the client goes away without a word
    deadline, status = time.monotonic() + 5, None
    while time.monotonic() < deadline and status != 200:
        again = Stream(f"{base}/api/sessions/{session.pk}/events", token).start()
        assert again.connected.wait(10)
        status = again.status
        time.sleep(0.2)
    assert status == 200, "the dropped stream still holds its slot"
    for sock in held:
        sock.close()
