"""Browser tests: Debian's Chromium driven by Playwright against a live Django server.

- The browser is /usr/bin/chromium (CHROMIUM_PATH overrides; `make test` installs it with apt
  when missing); without it every test here skips and says why.
- Its camera is a y4m clip of FER-2013 sample faces (tests/e2e/video.py), so the live session
  uploads real frames that a real Celery worker (`workers.app`) analyses.
- Screenshots go to the test's tmp dir, or var/screenshots when E2E_SCREENSHOTS is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.video import fake_camera
from tests.workers import support

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "a-long-e2e-password-42"
FACES = ("happy_1", "happy_3")  # sample faces the shipped detector finds at 200 px


@pytest.fixture(autouse=True)
def _e2e_settings(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium or "
            "`python deploy/install_browser.py`) to run the browser tests"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    samples = shared_data / "fer2013" / "sample"
    if not samples.is_dir():
        pytest.skip(f"FER-2013 samples not found at {samples} (set SHARED_DATA_DIR)")
    return fake_camera(tmp_path_factory.mktemp("camera") / "faces.y4m", samples, FACES)


@pytest.fixture(scope="session")
def browser(chromium_path: str, camera_clip: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django refuses ORM
    # calls from a thread with a running loop unless told this is fine (it is: the loop is
    # Playwright's). Only while the browser is up, so other suites keep the check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_clip}",
                "--disable-background-networking",
                "--disable-component-update",
                "--autoplay-policy=no-user-gesture-required",  # the player moves on by itself
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, browser: Any, live_server: Any, transactional_db: None
) -> Iterator[Callable[..., Any]]:
    """Open a fresh browser context (its own cookies) on the live server, or on the production
    server (uvicorn) when the test asks for `web_server`; may be called twice."""
    contexts: list[Any] = []
    server = (
        request.getfixturevalue("web_server")
        if "web_server" in request.fixturenames
        else live_server
    )

    def make(**options: Any) -> Any:
        context = browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.requested = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.on("request", lambda req: page.requested.append(req.url))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Any, str], Path]:
    """Save a full-page PNG named after the test and step; returns its path."""
    folder = Path(os.environ.get("E2E_SCREENSHOTS_DIR", ROOT / "var" / "screenshots"))
    if not os.environ.get("E2E_SCREENSHOTS"):
        folder = tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Any, step: str) -> Path:
        path = folder / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        assert_accessible_basics(page)
        return path

    return shoot


UNLABELLED_JS = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const named = (e) => (e.labels && e.labels.length) || e.getAttribute("aria-label")
    || e.getAttribute("aria-labelledby");
  const fields = [...document.querySelectorAll("input, select, textarea")]
    .filter((e) => e.type !== "hidden" && visible(e) && !named(e)).map((e) => e.outerHTML);
  const buttons = [...document.querySelectorAll("button, a[href]")]
    .filter((e) => visible(e) && !(e.textContent.trim() || e.getAttribute("aria-label")))
    .map((e) => e.outerHTML);
  const charts = [...document.querySelectorAll("main svg")]
    .filter((e) => e.getAttribute("role") !== "img" || !e.getAttribute("aria-label"))
    .map((e) => e.outerHTML.slice(0, 80));
  return [...fields, ...buttons, ...charts];
}"""


def assert_accessible_basics(page: Any) -> None:
    """Every visible form field has a label, every button/link a name, every chart a text
    alternative; the page has one h1 and its language set."""
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def personas(transactional_db: None) -> dict[str, Any]:
    """patient (consented), patient_new (no consent yet), other_patient, therapist (assigned to
    patient and patient_new), other_therapist (assigned to other_patient), admin."""
    from backend.accounts import services
    from backend.accounts.models import Role

    def user(name: str, role: str) -> Any:
        return services.create_user(username=name, password=PASSWORD, role=role)

    people = {
        "patient": user("pat", Role.PATIENT),
        "patient_new": user("newpat", Role.PATIENT),
        "other_patient": user("otherpat", Role.PATIENT),
        "therapist": user("ther", Role.THERAPIST),
        "other_therapist": user("otherther", Role.THERAPIST),
        "admin": user("boss", Role.ADMIN),
    }
    services.grant_consent(patient=people["patient"])
    services.grant_consent(patient=people["other_patient"])
    services.assign(therapist=people["therapist"], patient=people["patient"])
    services.assign(therapist=people["therapist"], patient=people["patient_new"])
    services.assign(therapist=people["other_therapist"], patient=people["other_patient"])
    return people


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker(live_server: Any, settings: Any, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real `workers.app` Celery worker on the test database and this run's broker."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database only on PostgreSQL (set DATABASE_URL)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ML_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "worker.log").open("wb")
    queues = f"{settings.CELERY_FRAMES_QUEUE},{settings.CELERY_LIGHT_QUEUE}"
    cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool=solo"]
    cmd += ["--concurrency=1", "--loglevel=INFO", "-Q", queues, "--hostname=e2e@%h"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / "worker.log"  # type: ignore[attr-defined]
    yield proc
    stop(proc)
    log.close()
    if os.environ.get("E2E_SCREENSHOTS"):
        shutil.copy(tmp_path / "worker.log", ROOT / "var" / "screenshots" / "worker.log")


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen[bytes]


def _hash_for_a_real_server() -> None:
    """The suite hashes passwords with MD5 for speed; a server with the production settings
    does not accept MD5, so the personas get a PBKDF2 hash of the same password (with few
    iterations: the server upgrades it on the first sign-in)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password

    from backend.accounts.models import User

    hasher = PBKDF2PasswordHasher()
    for user in User.objects.filter(password__startswith="md5$"):
        if check_password(PASSWORD, user.password):
            encoded = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
            User.objects.filter(pk=user.pk).update(password=encoded)


@pytest.fixture
def web_server(settings: Any, tmp_path: Path, personas: dict[str, Any]) -> Iterator[WebServer]:
    """The production web server (deploy/serve.py: uvicorn, one process) on the test
    database, this run's broker and the test's media folder; stopped (SIGTERM, then kill)
    after the test, also when it fails."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the web server shares the test database only on PostgreSQL (set DATABASE_URL)")
    _hash_for_a_real_server()
    port = support.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SERVE_STATIC": "true",
        "PYTHONUNBUFFERED": "1",
    }
    web = support.web(env, tmp_path / "web.log", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        support.wait_healthy(web, url, timeout=30)
        assert web.proc is not None
        yield WebServer(url=url, process=web.proc)
    finally:
        web.stop()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s: a process a test started never outlives it."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def worker_log_tail(proc: subprocess.Popen, lines: int = 40) -> str:
    """The end of the worker's log, for failure messages."""
    state = "running" if proc.poll() is None else f"exited with {proc.returncode}"
    text = proc.log_path.read_text(errors="replace").splitlines()[-lines:]  # type: ignore[attr-defined]
    return f"worker {state}; log tail:\n" + "\n".join(text)
