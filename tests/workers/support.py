"""Helpers for worker tests: a face photo, worker/web subprocesses, waiting for final states."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import ROOT, SHARED_DATA

FINAL = ("done", "no_face", "failed")


def face_jpeg(name: str = "happy_0.jpg", quality: int = 90) -> bytes:
    """A FER-2013 sample face, upscaled to 200x200 on a 640x480 background (MTCNN finds it)."""
    face = Image.open(SHARED_DATA / "fer2013" / "sample" / name).convert("L")
    canvas = np.full((480, 640), 90, np.uint8)
    canvas[140:340, 220:420] = np.asarray(face.resize((200, 200), Image.BICUBIC))
    out = io.BytesIO()
    Image.fromarray(canvas).convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD")
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 90.0, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output()[after:]:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.args[:4]} exited:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} not seen:\n{self.output()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def worker(env: dict[str, str], log: Path, queues: str, name: str, pool: str = "solo") -> Process:
    """A Celery worker: solo (as GPU workers run) or prefork with one child (as CPU ones do)."""
    args = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", f"--pool={pool}"]
    if pool == "prefork":
        args.append("--concurrency=1")
    args += ["-Q", queues, "-n", f"{name}@%h", "--loglevel=INFO"]
    args += ["--without-mingle", "--without-gossip"]
    return Process(args, env, log)


def wait_listening(proc: Process, port: int, timeout: float = 60.0) -> None:
    """Until the server accepts connections on the port (whatever its log level prints)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited:\n{proc.output()[-3000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}:\n{proc.output()[-3000:]}")


def web(env: dict[str, str], log: Path, port: int, workers: int = 1) -> Process:
    """The production web server (deploy/serve.py: uvicorn + the ASGI app)."""
    args = [sys.executable, str(ROOT / "deploy" / "serve.py"), "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", str(workers)]
    return Process(args, env, log)


def wait_healthy(proc: Process, base: str, timeout: float = 60.0) -> None:
    """Until GET {base}/api/health answers 200; fails with the server's log if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"the web server exited:\n{proc.output()[-3000:]}")
        time.sleep(0.2)
    raise TimeoutError(
        f"the web server did not answer in {timeout:.0f} s:\n{proc.output()[-3000:]}"
    )


def wait_final(frame_ids: Iterable[int], timeout: float = 90.0) -> dict[int, str]:
    """Statuses once every frame is final (the test fails with what is still pending)."""
    from django.db import connection

    from backend.therapy.models import Frame

    ids = list(frame_ids)
    deadline = time.monotonic() + timeout
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline:
        statuses = dict(Frame.objects.filter(pk__in=ids).values_list("pk", "status"))
        if len(statuses) == len(ids) and all(s in FINAL for s in statuses.values()):
            return statuses
        connection.close()
        time.sleep(0.3)
    raise AssertionError(f"frames not final after {timeout}s: {statuses}")
