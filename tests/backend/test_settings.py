"""Settings come from the environment; malformed values and missing production secrets
stop the boot with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_int,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_rejects_garbage(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="FLAG"):
        env_bool("FLAG", False)
    monkeypatch.setenv("FLAG", "On")
    assert env_bool("FLAG", False) is True


def test_env_int_rejects_non_numbers_and_values_below_minimum(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SIZE", "2MB")
    with pytest.raises(ImproperlyConfiguredEnv, match="not an integer"):
        env_int("SIZE", 1)
    monkeypatch.setenv("SIZE", "5")
    with pytest.raises(ImproperlyConfiguredEnv, match="below the minimum"):
        env_int("SIZE", 1, minimum=10)


def test_env_choice_rejects_unknown_values(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ML_DEVICE", "tpu")
    with pytest.raises(ImproperlyConfiguredEnv, match="auto, cpu, cuda"):
        env_choice("ML_DEVICE", "auto", ("auto", "cpu", "cuda"))


def test_database_urls_parse(tmp_path):  # type: ignore[no-untyped-def]
    pg = parse_database_url(
        "postgres://u:p%40ss@db.example:6543/mood?sslmode=require", base_dir=tmp_path
    )
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "mood",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    lite = parse_database_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)
    assert lite["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    with pytest.raises(ImproperlyConfiguredEnv, match="scheme"):
        parse_database_url("mysql://x/y", base_dir=tmp_path)


def test_the_web_server_pools_postgresql_connections_and_nothing_else_does(tmp_path):  # type: ignore[no-untyped-def]
    url = "postgres://u@db/mood?sslmode=require"
    plain = parse_database_url(url, base_dir=tmp_path)
    assert plain["CONN_MAX_AGE"] == 60 and "pool" not in plain["OPTIONS"]  # type: ignore[operator]
    pooled = parse_database_url(url, base_dir=tmp_path, pool_size=7)
    # Django refuses persistent connections together with a pool
    assert pooled["CONN_MAX_AGE"] == 0 and pooled["CONN_HEALTH_CHECKS"] is False
    assert pooled["OPTIONS"] == {
        "sslmode": "require",
        "pool": {"min_size": 2, "max_size": 7, "timeout": 10},
    }
    lite = parse_database_url("sqlite:///x.sqlite3", base_dir=tmp_path, pool_size=7)
    assert "OPTIONS" not in lite


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ENV", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_refuses_to_start():  # type: ignore[no-untyped-def]
    result = _manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_settings_pass_check_deploy():  # type: ignore[no-untyped-def]
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        ALLOWED_HOSTS="example.org",
        SECRET_KEY="k" * 20 + "-a-long-random-production-secret-0123456789",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
