"""Simulated patients against the real stack on loopback, and the no-loss verification.

    python -m tests.reliability.load --patients 4 --seconds 30 --json

Needs DATABASE_URL (PostgreSQL; it is migrated) and REDIS_URL. Starts the ASGI web server and Celery
worker subprocesses on private queues (tests/reliability/stack.py), gives each simulated
patient a consented account, a token and a therapy session, and has each upload 640x480
one-face JPEGs at --fps (2/s, a webcam sampled the way the session page does) with an async
httpx client. Arrivals follow the clock, not the responses (a slow server does not slow them).
Then it waits until every accepted frame is final and checks that none is lost (accepted but
never final, or gone) and none duplicated (more than one reading for a face). Prints one JSON
line. Only loopback addresses are ever contacted. Its users and data are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

FINAL = ("done", "no_face", "failed")


@dataclass(frozen=True)
class Upload:
    patient: int
    status: int  # 0: no HTTP answer (connection error or timeout)
    ms: float
    frame_id: int | None
    error_code: str | None
    sent_at: float


@dataclass(frozen=True)
class Patient:
    user_id: int
    token: str
    session_id: int


def make_patients(n: int, tag: str) -> list[Patient]:
    from rest_framework.authtoken.models import Token

    from backend.accounts import services as accounts
    from backend.therapy.models import TherapySession

    made = []
    for i in range(n):
        user = accounts.create_user(
            username=f"load-{tag}-{i}", password=uuid.uuid4().hex, role="patient"
        )
        accounts.grant_consent(patient=user)
        session = TherapySession.objects.create(patient=user)
        made.append(Patient(user.pk, Token.objects.create(user=user).key, session.pk))
    return made


def delete_patients(patients: Iterable[Patient]) -> None:
    from backend.accounts.models import User

    User.objects.filter(pk__in=[p.user_id for p in patients]).delete()


async def _simulate(
    base_url: str,
    patients: list[Patient],
    seconds: float,
    fps: float,
    frames: list[bytes],
    during: Callable[[float], None] | None,
) -> list[Upload]:
    import httpx

    host = urlparse(base_url).hostname
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError(f"load is only ever sent to loopback, not {host!r}")
    results: list[Upload] = []
    limits = httpx.Limits(max_connections=4 * len(patients) + 8)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one(p: Patient, i: int, sent_at: float) -> None:
            started = time.perf_counter()
            try:
                response = await client.post(
                    f"/api/sessions/{p.session_id}/frames",
                    files={"image": ("frame.jpg", frames[i % len(frames)], "image/jpeg")},
                    headers={"Authorization": f"Token {p.token}"},
                )
                status = response.status_code
                body = response.json() if "json" in response.headers.get("content-type", "") else {}
                frame_id = body.get("id") if status == 202 else None
                code = None if status == 202 else body.get("error", {}).get("code", str(status))
            except httpx.HTTPError as exc:
                status, frame_id, code = 0, None, type(exc).__name__
            ms = 1000 * (time.perf_counter() - started)
            results.append(Upload(p.user_id, status, ms, frame_id, code, sent_at))

        async def patient_loop(p: Patient, offset: float) -> list[asyncio.Task[None]]:
            tasks = []
            t0 = time.perf_counter() + offset
            for i in range(int(seconds * fps)):
                delay = t0 + i / fps - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(p, i, time.perf_counter() - start)))
            return tasks

        start = time.perf_counter()
        loops = [
            asyncio.create_task(patient_loop(p, k / (fps * len(patients))))
            for k, p in enumerate(patients)
        ]
        if during is not None:  # the fault injector runs in a thread beside the load
            fault = asyncio.get_running_loop().run_in_executor(None, during, seconds)
        nested = await asyncio.gather(*loops)
        await asyncio.gather(*(t for tasks in nested for t in tasks))
        if during is not None:
            await fault
    return results


def simulate(
    base_url: str,
    patients: list[Patient],
    *,
    seconds: float,
    fps: float = 2.0,
    during: Callable[[float], None] | None = None,
) -> list[Upload]:
    from bench.faces import face_frames

    return asyncio.run(_simulate(base_url, patients, seconds, fps, face_frames(), during))


def wait_final(frame_ids: list[int], timeout: float) -> dict[int, str]:
    from django.db import DatabaseError, connection

    from backend.therapy.models import Frame

    deadline = time.monotonic() + timeout
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline:
        try:
            statuses = dict(Frame.objects.filter(pk__in=frame_ids).values_list("pk", "status"))
        except DatabaseError:  # the connection was terminated under us: poll again
            connection.close()
            continue
        if len(statuses) == len(frame_ids) and all(s in FINAL for s in statuses.values()):
            break
        connection.close()
        time.sleep(0.5)
    return statuses


def verify(frame_ids: list[int], *, timeout: float) -> dict[str, Any]:
    """Every accepted frame final, exactly one reading per detected face, nothing missing."""
    from django.db.models import Count

    from backend.therapy.models import EmotionReading, Frame

    statuses = wait_final(frame_ids, timeout)
    per_face = (
        EmotionReading.objects.filter(frame_id__in=frame_ids)
        .values("frame_id", "face_index")
        .annotate(n=Count("id"))
    )
    with_reading = set(
        EmotionReading.objects.filter(frame_id__in=frame_ids).values_list("frame_id", flat=True)
    )
    done = [f for f, s in statuses.items() if s == "done"]
    rows = list(Frame.objects.filter(pk__in=frame_ids).values_list("uploaded_at", "processed_at"))
    latencies = [1000 * (b - a).total_seconds() for a, b in rows if b is not None]
    span = [r for r in rows if r[1] is not None]
    return {
        "accepted": len(frame_ids),
        "statuses": dict(Counter(statuses.values())),
        "lost": len(frame_ids) - sum(1 for s in statuses.values() if s in FINAL),
        "duplicated": sum(1 for row in per_face if row["n"] > 1),
        "done_without_reading": sum(1 for f in done if f not in with_reading),
        "upload_to_final_ms": _percentiles(latencies),
        "processed_fps": round(
            len(span)
            / max(1e-9, (max(b for _, b in span) - min(a for a, _ in span)).total_seconds()),
            2,
        )
        if span
        else 0.0,
    }


def summarise(uploads: list[Upload], seconds: float) -> dict[str, Any]:
    accepted = [u for u in uploads if u.status == 202]
    errors = [u for u in uploads if u.status != 202]
    return {
        "sent": len(uploads),
        "accepted_202": len(accepted),
        "refused": dict(Counter(f"{u.status} {u.error_code}" for u in errors)),
        "error_rate": round(len(errors) / max(1, len(uploads)), 4),
        "sustained_upload_fps": round(len(accepted) / seconds, 2),
        "upload_ms": _percentiles([u.ms for u in accepted]),
    }


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    from bench.env import percentiles

    return percentiles(values)


def run_load(
    *, patients: int, seconds: float, fps: float, workers: int, drain: float
) -> dict[str, Any]:
    from bench.env import environment
    from tests.reliability.stack import Stack

    tag = uuid.uuid4().hex[:6]
    people = make_patients(patients, tag)
    stack = Stack(Path(tempfile.mkdtemp(prefix="reliability-load-")), workers=workers)
    try:
        stack.start()
        warm = simulate(stack.base_url, people[:1], seconds=2, fps=2)  # model load, imports
        verify([u.frame_id for u in warm if u.frame_id], timeout=120)
        uploads = simulate(stack.base_url, people, seconds=seconds, fps=fps)
        report = {
            "benchmark": "reliability_load",
            "patients": patients,
            "fps_per_patient": fps,
            "seconds": seconds,
            "workers": workers,
            "worker_ml_device": stack.env["ML_DEVICE"],
            **summarise(uploads, seconds),
            **verify([u.frame_id for u in uploads if u.frame_id], timeout=drain),
        }
        return report | environment()
    finally:
        stack.stop()
        delete_patients(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=2.0, help="uploads per patient per second")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if not (
        os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")
    ):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL: the load runs against real services")
    import logging

    import django

    django.setup()
    from django.core.management import call_command

    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    report = run_load(
        patients=args.patients,
        seconds=args.seconds,
        fps=args.fps,
        workers=args.workers,
        drain=args.drain_timeout,
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
