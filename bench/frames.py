"""End-to-end frame benchmark against real PostgreSQL + Redis, the production web server
(uvicorn) and real workers.

    python -m bench.frames --rate 20 --seconds 60 --json          # throughput, no loss
    python -m bench.frames --rate 5 --seconds 60 --json           # upload-to-reading latency
    python -m bench.frames --rate 100 --seconds 30 --upload-only --json   # upload endpoint

Needs DATABASE_URL (PostgreSQL) and REDIS_URL. Runs in a database of its own next to the one
DATABASE_URL names, `<name>_frames_bench`, created afresh each run: it never touches any other
database. Starts its own web server and Celery worker subprocesses on private queues, uploads
640x480 one-face JPEGs on an open-loop schedule (a slow server does not slow the arrivals),
waits until every accepted frame is final, and prints one JSON line: upload latency (client
side), upload-to-reading latency (Frame.uploaded_at -> processed_at, written in the readings'
transaction), throughput, and lost/duplicated counts. The benchmark's patient and data are
deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0, help="uploads per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--upload-only", action="store_true", help="no worker: the endpoint")
    parser.add_argument("--worker-procs", type=int, default=1, help="worker processes")
    parser.add_argument("--batch-size", type=int, default=0, help="0: the worker's auto")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    return parser.parse_args()


def main() -> None:
    args = _args()
    from bench.env import fresh_database

    fresh_database("frames", redis=True)  # the web server and workers inherit it
    import django

    django.setup()
    import subprocess

    import httpx
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from backend.accounts import services as accounts
    from backend.therapy.models import EmotionReading, Frame, TherapySession
    from bench.env import environment, percentiles
    from bench.faces import face_frames
    from tests.workers import support

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    queues = (f"bench-frames-{run}", f"bench-light-{run}")
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    env = {
        **os.environ,
        "CELERY_FRAMES_QUEUE": queues[0],
        "CELERY_LIGHT_QUEUE": queues[1],
        "MEDIA_ROOT": str(media),
        "WORKER_BATCH_SIZE": str(args.batch_size),
        "UPLOAD_RATE": "100000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    patient = accounts.create_user(
        username=f"bench-{run}", password=uuid.uuid4().hex, role="patient"
    )
    accounts.grant_consent(patient=patient)
    session = TherapySession.objects.create(patient=patient)
    token = Token.objects.create(user=patient)
    port = support.free_port()
    web = support.web(env, logs / "web.log", port, args.web_workers).start()
    workers = []
    if not args.upload_only:
        # frames workers take only frames; one more process takes the light queue
        # (playlist refreshes), as in production, so frames never wait behind it
        for i in range(args.worker_procs):
            w = support.worker(env, logs / f"worker{i}.log", queues[0], f"bench{i}-{run}")
            workers.append(w.start())
        light = support.worker(env, logs / "light.log", queues[1], f"light-{run}")
        workers.append(light.start())
    frames = face_frames()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    )
    results: list[tuple[int | str, float, int | None]] = []
    lock = threading.Lock()

    def upload(i: int) -> None:
        started = time.perf_counter()
        try:
            response = client.post(
                f"/api/sessions/{session.pk}/frames",
                files={"image": ("f.jpg", frames[i % len(frames)], "image/jpeg")},
            )
            status = response.status_code
            frame_id = response.json().get("id") if status == 202 else None
        except httpx.HTTPError as exc:  # counted under the exception's name
            status, frame_id = type(exc).__name__, None
        with lock:
            results.append((status, 1000 * (time.perf_counter() - started), frame_id))

    try:
        support.wait_listening(web, port)
        for w in workers:
            w.wait_for_output("ready.", timeout=120)
        time.sleep(1.0)
        say("warming up")
        for i in range(8):  # first requests import lazily; the worker loads its model
            upload(i)
        warm = [fid for s, _, fid in results if fid]
        if workers:
            support.wait_final(warm, timeout=120)
        results.clear()
        say(f"uploading {args.rate}/s for {args.seconds}s")
        total = int(args.rate * args.seconds)
        pool = ThreadPoolExecutor(max_workers=64)
        t0 = time.perf_counter()
        for i in range(total):  # open loop: arrivals follow the clock, not the responses
            delay = t0 + i / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(upload, i)
        pool.shutdown(wait=True)
        send_seconds = time.perf_counter() - t0
        accepted = [fid for status, _, fid in results if status == 202 and fid]
        drain_started = time.perf_counter()
        statuses: dict[int, str] = {}
        if workers:
            say(f"draining {len(accepted)} frames")
            deadline = time.monotonic() + args.drain_timeout
            while time.monotonic() < deadline:
                statuses = dict(Frame.objects.filter(pk__in=accepted).values_list("pk", "status"))
                if all(s in support.FINAL for s in statuses.values()):
                    break
                connection.close()
                time.sleep(0.5)
        drain_seconds = time.perf_counter() - drain_started
        report = {
            "benchmark": "frames_upload" if args.upload_only else "frames_end_to_end",
            "rate_target": args.rate,
            "seconds": args.seconds,
            "sent": total,
            "accepted": len(accepted),
            "upload_status_counts": _counts(s for s, _, _ in results),
            "achieved_upload_rate": round(total / send_seconds, 2),
            "upload_ms": percentiles([ms for s, ms, _ in results if s == 202]),
            "web": {"server": "uvicorn (deploy/serve.py)", "workers": args.web_workers},
        }
        if workers:
            rows = list(
                Frame.objects.filter(pk__in=accepted).values_list(
                    "status", "uploaded_at", "processed_at"
                )
            )
            final = [r for r in rows if r[0] in support.FINAL and r[2] is not None]
            per_frame = _counts(
                EmotionReading.objects.filter(frame_id__in=accepted, face_index=0).values_list(
                    "frame_id", flat=True
                )
            )
            first_up = min(r[1] for r in rows)
            last_done = max((r[2] for r in final), default=first_up)
            report |= {
                "statuses": _counts(r[0] for r in rows),
                "lost": len(accepted) - len(rows),  # accepted (202) but no row any more
                "pending_at_drain_timeout": len(rows) - len(final),
                "duplicated": sum(1 for n in per_frame.values() if n > 1),
                "done_without_reading": sum(
                    1 for fid, s in statuses.items() if s == "done" and fid not in per_frame
                ),
                "upload_to_reading_ms": percentiles(
                    [1000 * (r[2] - r[1]).total_seconds() for r in final]
                ),
                "throughput_fps": round(len(final) / (last_done - first_up).total_seconds(), 2),
                "drain_after_last_upload_s": round(drain_seconds, 1),
                "worker": {
                    "frames_procs": args.worker_procs,
                    "light_procs": 1,
                    "batch_size": args.batch_size or "auto",
                    "torch_threads": 1,
                    "pool": "solo",
                },
            }
        report |= environment()
        print(json.dumps(report))
    finally:
        client.close()
        for proc in [web, *workers]:
            proc.stop()
        from backend.common.health import broker_redis

        redis = broker_redis()
        if redis is not None:
            redis.delete(*queues)
        patient.delete()
        subprocess.run(["rm", "-rf", str(media)], check=False)


def _counts(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


if __name__ == "__main__":
    main()
