"""The Dockerfiles: pinned bases, non-root users, health checks, the web image without torch,
every COPY source present, and every program the containers run installed by the right extra."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from tests.deploy.conftest import ROOT

WEB = (ROOT / "deploy" / "Dockerfile.web").read_text()
WORKER = (ROOT / "deploy" / "Dockerfile.worker").read_text()
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[=<>!~ ]", r, maxsplit=1)[0].lower() for r in requirements}


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in joined.splitlines())
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("name,text", [("web", WEB), ("worker", WORKER)])
def test_images_run_as_a_non_root_user_with_a_healthcheck(name: str, text: str) -> None:
    steps = _instructions(text)
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), name
    assert any(op == "HEALTHCHECK" for op, _ in steps), name
    assert ("ENTRYPOINT", '["python", "deploy/entrypoint.py"]') in steps


@pytest.mark.parametrize("name,text", [("web", WEB), ("worker", WORKER)])
def test_base_images_are_pinned(name: str, text: str) -> None:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.M))
    for op, arg in _instructions(text):
        if op == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arg.split()[0])
            assert re.search(r":\d+(\.\d+)+", image), f"{name}: {image} is not pinned"


@pytest.mark.parametrize("name,text", [("web", WEB), ("worker", WORKER)])
def test_every_copied_path_exists(name: str, text: str) -> None:
    for op, arg in _instructions(text):
        if op == "COPY":
            *sources, _dest = arg.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source}"


def test_web_image_installs_the_project_without_the_ml_extra() -> None:
    installs = [arg for op, arg in _instructions(WEB) if op == "RUN" and "pip install" in arg]
    assert installs and not any("[ml" in arg or "torch" in arg for arg in installs)
    assert "COPY ml" not in WEB and "COPY workers" not in WEB


def test_worker_image_installs_the_ml_extra_and_torch_from_the_variant_index() -> None:
    assert "pip install '.[ml]'" in WORKER
    assert 'download.pytorch.org/whl/${VARIANT}" "torch==${TORCH_VERSION}"' in WORKER
    torch_pin = next(r for r in PYPROJECT["project"]["optional-dependencies"]["ml"] if "torch" in r)
    assert re.search(r"ARG TORCH_VERSION=(\S+)", WORKER).group(1) == torch_pin.split("==")[1]  # type: ignore[union-attr]
    assert re.search(r"ARG BASE_IMAGE=nvidia/cuda:[\d.]+-cudnn-runtime", WORKER)


def test_the_programs_the_containers_run_come_from_the_right_dependencies() -> None:
    base = _requirement_names(PYPROJECT["project"]["dependencies"])
    ml = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["ml"])
    servers = {"uvicorn", "uvloop", "httptools", "celery"}
    assert servers | {"django", "psycopg", "psycopg-pool", "redis"} <= base
    assert "uvicorn==0.54.0" in PYPROJECT["project"]["dependencies"]
    assert "torch" in ml and "torch" not in base, "the web image must not get torch"
    assert "opencv-python-headless" in ml
    every = [
        *PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"]["ml"],
    ]
    assert all("==" in r for r in every), "versions are pinned exactly"


@pytest.mark.parametrize("module", ["uvicorn", "celery"])
def test_server_programs_start_here(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_web_code_does_not_import_torch() -> None:
    code = (
        "import os, sys; os.environ['DJANGO_SETTINGS_MODULE']='backend.config.settings';"
        "import django; django.setup();"
        "import backend.config.urls, backend.config.wsgi;"
        "print('torch' in sys.modules, 'cv2' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]


def test_build_context_leaves_out_secrets_data_and_the_venv_but_not_the_copied_code() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", "var", ".git"} <= ignored
    copied = {
        source.split("/")[0]
        for text in (WEB, WORKER)
        for op, arg in _instructions(text)
        if op == "COPY"
        for source in arg.split()[:-1]
    }
    assert not copied & ignored, copied & ignored
