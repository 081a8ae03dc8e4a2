""".env.example documents every environment variable the code reads, and nothing stale."""

from __future__ import annotations

import re

from tests.deploy.conftest import ROOT

# env_str("NAME" ...), env_int(...), os.environ.get("NAME"), os.getenv("NAME"), environ["NAME"]
_READ = re.compile(
    r"(?:env_(?:str|bool|int|list|choice)|os\.environ\.get|os\.getenv|environ\.setdefault)"
    r"\(\s*\"([A-Z][A-Z0-9_]+)\""
    r"|environ\[\"([A-Z][A-Z0-9_]+)\"\]"
)
SOURCES = ("backend", "workers", "ml", "deploy", "frontend")
# Read by tools, not by our code: compose (interpolation), Caddy, the container runtimes.
COMPOSE_ONLY = {
    "COMPOSE_PROFILES",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "SITE_ADDRESS",
    "PROXY_MAX_BODY_SIZE",
}
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE"}


def read_by_code() -> set[str]:
    names: set[str] = set()
    paths = [p for d in SOURCES for p in (ROOT / d).rglob("*.py")] + [ROOT / "manage.py"]
    paths += [ROOT / "tests" / "conftest.py"]
    for path in paths:
        if "migrations" in path.parts:
            continue
        for a, b in _READ.findall(path.read_text(errors="replace")):
            names.add(a or b)
    return names - NOT_CONFIGURATION


def documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    missing = read_by_code() - documented()
    assert not missing, f"document these in .env.example: {sorted(missing)}"


def test_env_example_lists_nothing_that_nobody_reads() -> None:
    stale = documented() - read_by_code() - COMPOSE_ONLY
    assert not stale, f"no code reads: {sorted(stale)}"


def test_the_settings_variables_are_found() -> None:
    # the scanner itself works: a few names we know settings.py reads
    assert {"SECRET_KEY", "DATABASE_URL", "FRAME_RETENTION_DAYS", "ML_DEVICE"} <= read_by_code()


def test_env_example_carries_no_real_secret() -> None:
    values = dict(
        re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", (ROOT / ".env.example").read_text(), flags=re.M)
    )
    assert values["SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"].startswith("change-me")
