"""Access control beyond the per-app matrices: session fixation, CSRF on session-authenticated
writes and web forms, login brute-force lockout, production cookies/headers, the data-rights
endpoints per persona, and no secrets in the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from backend.accounts.models import LoginFailure, User
from tests.backend.conftest import PASSWORD
from tests.personas import PERSONAS, users

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _login(client: Any, username: str, password: str = PASSWORD, ip: str = "10.0.0.1") -> Any:
    return client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


# --- session fixation -------------------------------------------------------------------


def test_login_rotates_the_session_key(patient: User) -> None:
    client = APIClient()
    session = client.session
    session["planted"] = "by an attacker"
    session.save()
    planted_key = session.session_key
    client.cookies["sessionid"] = planted_key
    response = _login(client, "pat")
    assert response.status_code == 200
    new_key = response.cookies["sessionid"].value
    assert new_key and new_key != planted_key
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=planted_key).exists()


def test_logout_ends_the_session_and_the_token(patient: User) -> None:
    client = APIClient()
    token = _login(client, "pat").json()["token"]
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me").status_code in (401, 403)
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert bearer.get("/api/me").status_code in (401, 403)


# --- CSRF -------------------------------------------------------------------------------


def test_session_authenticated_api_writes_need_the_csrf_token(patient: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    assert _login(client, "pat").status_code == 200
    refused = client.post("/api/sessions", {"goal": "calm"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/sessions", {"goal": "calm"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_token_authenticated_api_writes_need_no_csrf_token(patient: User) -> None:
    token = _login(APIClient(), "pat").json()["token"]
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/sessions", {"goal": "calm"}, format="json").status_code == 201


@pytest.mark.parametrize("path", ["/logout/", "/admin/login/"])
def test_web_forms_refuse_posts_without_csrf_token(path: str, patient: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient)
    response = client.post(path, {"username": "pat", "password": PASSWORD})
    assert response.status_code == 403


# --- brute force --------------------------------------------------------------------------


def test_login_locks_after_repeated_failures_even_for_the_right_password(
    patient: User, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 5
    client = APIClient()
    for _ in range(5):
        assert _login(client, "pat", "wrong-password").status_code == 401
    locked = _login(client, "pat")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert "sessionid" not in locked.cookies


def test_lockout_looks_the_same_for_unknown_usernames(db: None, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    client = APIClient()
    for _ in range(3):
        assert _login(client, "nobody", "x").status_code == 401
    assert _login(client, "nobody", "x").json()["error"]["code"] == "locked_out"


def test_lockout_of_one_address_does_not_lock_the_user_out_elsewhere(
    patient: User, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    client = APIClient()
    for _ in range(3):
        _login(client, "pat", "wrong", ip="10.6.6.6")
    assert _login(client, "pat", ip="10.6.6.6").status_code == 429
    assert _login(client, "pat", ip="10.1.2.3").status_code == 200
    assert not LoginFailure.objects.filter(username="pat").exists(), "success clears them"


def test_password_spraying_from_one_address_is_stopped(db: None, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2  # so one address may fail 8 times in all
    client = APIClient()
    for i in range(8):
        assert _login(client, f"user{i}", "Winter2026!", ip="10.9.9.9").status_code == 401
    assert _login(client, "user-new", "Winter2026!", ip="10.9.9.9").status_code == 429
    assert _login(client, "user-new", "Winter2026!", ip="10.9.9.8").status_code == 401


def test_garbled_forwarded_address_is_no_500(patient: User, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    response = APIClient().post(
        "/api/auth/login",
        {"username": "pat", "password": "wrong"},
        format="json",
        HTTP_X_FORWARDED_FOR="not-an-ip, <script>",
    )
    assert response.status_code == 401


# --- the data-rights endpoints, every persona ----------------------------------------------

DATA_RIGHTS_MATRIX = [
    # only the patient downloads their own data; nobody has a route to anyone else's
    ("get", "/api/me/export", dict(patient=200, other_patient=200)),
    ("get", "/api/users/{patient}/export", {p: 404 for p in PERSONAS}),
    ("post", "/api/users/{patient}/erase", dict(admin=400)),  # 400: no 'confirm' sent
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method,path,expected", DATA_RIGHTS_MATRIX)
def test_data_rights_endpoints_per_persona(
    method: str, path: str, expected: dict[str, int], persona: str, request: Any, client_for: Any
) -> None:
    people = users(request)
    user = people[persona]
    response = getattr(client_for(user), method)(path.format(patient=people["patient"].pk))
    want = expected.get(persona, 403)
    assert response.status_code == want, (persona, response.content[:200])


# --- production settings ------------------------------------------------------------------

_PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
c = Client()
http = c.get("/api/health", HTTP_HOST="example.org")
https = c.get("/login/", HTTP_HOST="example.org", secure=True)
print(json.dumps({
    "redirect": [http.status_code, http.get("Location")],
    "hsts": https.get("Strict-Transport-Security"),
    "nosniff": https.get("X-Content-Type-Options"),
    "frame": https.get("X-Frame-Options"),
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,
                settings.SESSION_COOKIE_HTTPONLY, settings.DEBUG],
}))
"""


def test_production_sends_secure_headers_and_cookies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG",)}
    env.update(
        DJANGO_ENV="production",
        ALLOWED_HOSTS="example.org",
        SECRET_KEY="a-long-random-production-secret-for-this-test-0123456789",
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="backend.config.settings",
    )
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["redirect"] == [301, "https://example.org/api/health"]
    assert probe["hsts"].startswith("max-age=31536000")
    assert probe["nosniff"] == "nosniff"
    assert probe["frame"] == "DENY"
    assert probe["cookies"] == [True, True, True, False]


# --- no secrets in the repository ---------------------------------------------------------

_SECRET_PATTERNS = {
    "private key": re.compile("-----BEGIN ([A-Z]+ )?" + "PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA" + r"[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_" + r"[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-" + r"[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[sr]k_live_" + r"[A-Za-z0-9]{16,}"),
    "Google API key": re.compile(r"\bAIza" + r"[0-9A-Za-z_-]{35}\b"),
    "password in a URL": re.compile(r"://[^/\s:@]+:(?!\$\{)[^@\s/]{6,}@(?!postgres:|example)"),
}


def test_no_secrets_in_tracked_files() -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    assert b".env" not in files, ".env holds real secrets: it must stay untracked"
    found = []
    for name in filter(None, files):
        path = ROOT / name.decode()
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (weights, images)
        text = data.decode("utf-8", "replace")
        for kind, rx in _SECRET_PATTERNS.items():
            if kind == "password in a URL" and name.startswith(b"tests/"):
                continue  # parser tests spell out fake credentials on purpose
            if rx.search(text):
                found.append(f"{name.decode()}: {kind}")
    assert found == []
