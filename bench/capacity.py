"""Capacity of one web replica: live-event streams held open while patients upload frames.

    python -m bench.capacity --patients 50 --watchers 250 --fps 2 --seconds 30 --json
    python -m bench.capacity --patients 10 --watchers 10 --workers 1 --json   # with a worker

N simulated patients each hold their session's events stream and upload a 640x480 one-face
JPEG at --fps; M watchers (therapists following a patient's session) hold a stream each; a
prober asks GET /api/health every 100 ms. It reports upload p50/p99, /api/health p50/p99,
errors, the web server's CPU milliseconds per accepted upload and its memory per open stream,
and with --workers the upload-to-event latency (upload answered -> the reading arrives on the
patient's stream), and the garbage collector's pauses in the web (and worker) processes during
the load (full collections and any other of 5 ms or more, timed by bench/gc_probe inside them).
Without workers (the default) frames simply queue: the web tier alone.

With --floor N it runs no load: one client sends N requests of each kind one after another on
a kept-alive connection to the otherwise idle server (GET /api/health, an authenticated
GET /api/me, an upload) and reports the server's CPU milliseconds per request of each: what the
framework costs before an upload does any work of its own.

Runs the production web server (deploy/serve.py, uvicorn) against PostgreSQL and Redis from
DATABASE_URL / REDIS_URL, in a database of its own, `<name>_capacity_bench`, created afresh
each run: it never touches any other database. The load generator shares the machine with the
server, so on a small machine the figures are a floor; the JSON records the CPU and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import rawhttp
from bench.env import ROOT, environment, fresh_database, percentiles

TICKS = os.sysconf("SC_CLK_TCK")
FRAME_IN_EVENT = re.compile(rb'"frame":\s*(\d+)')
PAGE = os.sysconf("SC_PAGE_SIZE")
OTHER_SERVERS = {"postgres": "postgresql", "redis-server": "redis"}  # process name: label


_SEED = """
import json, sys
import django
from django.conf import settings
django.setup()
# The load signs in with tokens and no password is ever checked: hash these with the cheapest
# hasher (Django's PBKDF2 spent minutes on 300 users); the server itself is untouched.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
from rest_framework.authtoken.models import Token
from backend.accounts import services
from backend.therapy.models import TherapySession
patients, watchers = int(sys.argv[1]), int(sys.argv[2])
out = {"patients": [], "watchers": []}
people = []
for i in range(patients):
    p = services.create_user(username=f"cap-p{i}", password="cap-bench-password-1", role="patient")
    services.grant_consent(patient=p)
    s = TherapySession.objects.create(patient=p)
    people.append((p, s))
    out["patients"].append({"token": Token.objects.create(user=p).key, "session": s.pk})
for j in range(watchers):
    t = services.create_user(
        username=f"cap-t{j}", password="cap-bench-password-1", role="therapist"
    )
    p, s = people[j % len(people)]
    services.assign(therapist=t, patient=p)
    out["watchers"].append({"token": Token.objects.create(user=t).key, "session": s.pk})
print(json.dumps(out))
"""


# --- the server's processes --------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """pid and every descendant (uvicorn --workers N runs a parent and N children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _cpu_ticks(proc: Path) -> int:
    """utime + stime of the process at /proc/<pid>; 0 when it has gone meanwhile."""
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(pid: int) -> float:
    return sum(_cpu_ticks(Path(f"/proc/{p}")) for p in _tree(pid)) / TICKS


def _named(proc: Path, name: str) -> bool:
    try:
        return proc.name.isdigit() and (proc / "comm").read_text().strip() == name
    except OSError:
        return False


def cpu_seconds_of(name: str) -> float:
    """CPU seconds of every process whose command name is `name` (the local PostgreSQL's
    backends, redis-server): what one upload costs the rest of the machine."""
    return sum(_cpu_ticks(e) for e in Path("/proc").iterdir() if _named(e, name)) / TICKS


def cpu_times() -> list[int]:
    """The machine's CPU time so far, by kind (/proc/stat: user nice system idle iowait irq
    softirq steal ...), in ticks."""
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time the hypervisor gave to someone else meanwhile: on a
    virtual machine whose host is busy the run had less CPU than its core count says."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return round(spent[7] / max(1, sum(spent)), 3)


def rss_mib(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


# --- the load ----------------------------------------------------------------------------


class Load:
    """The simulated clinic, on bench.rawhttp: a general HTTP client would spend more CPU per
    request than the server does, on the same two cores."""

    def __init__(self, host: str, port: int, frame: bytes) -> None:
        self.host, self.port, self.frame = host, port, frame
        self.stream_status: list[int] = []
        self.streams_open = 0
        self.upload_ms: list[float] = []
        self.upload_errors: dict[str, int] = {}
        self.health_ms: list[float] = []
        self.health_errors = 0
        self.sent_at: dict[int, float] = {}  # frame id -> when its upload was answered
        self.event_ms: list[float] = []
        self.stop = asyncio.Event()

    def _request(self, method: str, path: str, token: str | None = None, **kw: Any) -> bytes:
        headers = {"Authorization": f"Token {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return rawhttp.build_request(method, path, host=f"{self.host}:{self.port}",
                                     headers=headers, **kw)  # fmt: skip

    async def stream(self, token: str, session: int, *, own: bool) -> None:
        raw = self._request("GET", f"/api/sessions/{session}/events", token,
                            headers={"Accept": "text/event-stream"})  # fmt: skip
        while not self.stop.is_set():
            conn = rawhttp.Connection(self.host, self.port)
            try:
                status, chunks = await conn.stream(raw)
                self.stream_status.append(status)
                if status != 200:
                    return
                self.streams_open += 1
                try:
                    pending = b""
                    async for chunk in chunks:
                        if not own:
                            continue
                        pending += chunk
                        *events, pending = pending.split(b"\n\n")
                        for event in events:
                            if (match := FRAME_IN_EVENT.search(event)) is not None:
                                sent = self.sent_at.pop(int(match.group(1)), None)
                                if sent is not None:
                                    self.event_ms.append(1000 * (time.monotonic() - sent))
                finally:
                    self.streams_open -= 1
            except Exception:
                await asyncio.sleep(0.5)
            finally:
                conn.close()

    async def upload(self, token: str, session: int, fps: float, phase: float) -> None:
        """Upload at `fps`, starting `phase` (0-1) of a period late: patients' cameras do not
        start in the same millisecond, and 50 uploads at once every second would measure a
        queue the server drains, not its latency."""
        body, content_type = rawhttp.multipart("image", "frame.jpg", self.frame, "image/jpeg")
        raw = self._request("POST", f"/api/sessions/{session}/frames", token, body=body,
                            content_type=content_type)  # fmt: skip
        conn = rawhttp.Connection(self.host, self.port)
        period = 1.0 / fps
        next_at = time.monotonic() + phase * period
        await asyncio.sleep(phase * period)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = await asyncio.wait_for(conn.request(raw), 30)
                if response.status == 202:
                    self.upload_ms.append(1000 * (time.monotonic() - started))
                    self.sent_at[response.json()["id"]] = time.monotonic()
                else:
                    key = str(response.status)
                    self.upload_errors[key] = self.upload_errors.get(key, 0) + 1
            except Exception as exc:
                conn.close()
                key = type(exc).__name__
                self.upload_errors[key] = self.upload_errors.get(key, 0) + 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        conn.close()

    async def probe_health(self) -> None:
        raw = self._request("GET", "/api/health")
        conn = rawhttp.Connection(self.host, self.port)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = await asyncio.wait_for(conn.request(raw), 30)
                if response.status == 200:
                    self.health_ms.append(1000 * (time.monotonic() - started))
                else:
                    self.health_errors += 1
            except Exception:
                conn.close()
                self.health_errors += 1
            await asyncio.sleep(0.1)
        conn.close()


GC_PROBE = ROOT / "bench" / "gc_probe"
GC_ROLES = ("web", "worker")


def gc_probed(env: dict[str, str], folder: Path) -> dict[str, str]:
    """`env` for a process whose collector bench/gc_probe times into `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(filter(None, [str(GC_PROBE), env.get("PYTHONPATH")]))
    return {**env, "GC_PAUSE_DIR": str(folder), "PYTHONPATH": path}


def gc_pauses(folder: Path, start: float, end: float) -> dict[str, Any]:
    """The garbage collector's pauses in one role's processes between two wall times."""
    pauses = [
        json.loads(line)
        for path in folder.glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    pauses = [p for p in pauses if start <= p["t"] <= end]
    full = sorted(p["ms"] for p in pauses if p["generation"] == 2)
    return {
        "full_collections": len(full),
        "full_ms_max": full[-1] if full else None,
        "full_ms_median": full[len(full) // 2] if full else None,
        "younger_over_5_ms": sum(1 for p in pauses if p["generation"] < 2),
    }


async def run_load(
    args: argparse.Namespace,
    port: int,
    seed: dict[str, Any],
    server_pid: int,
    frame: bytes,
    gc_dir: Path,
) -> dict[str, Any]:
    load = Load("127.0.0.1", port, frame)
    rss_before = rss_mib(server_pid)
    tasks = [
        asyncio.create_task(load.stream(p["token"], p["session"], own=True))
        for p in seed["patients"]
    ] + [
        asyncio.create_task(load.stream(w["token"], w["session"], own=False))
        for w in seed["watchers"]
    ]
    wanted = len(tasks)
    deadline = time.monotonic() + 60
    while load.streams_open < wanted and time.monotonic() < deadline:
        if len(load.stream_status) >= wanted and load.streams_open < wanted:
            break  # some were refused: report it
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    held = load.streams_open
    rss_streams = rss_mib(server_pid)
    cpu_start = cpu_seconds(server_pid)
    others_start = {name: cpu_seconds_of(name) for name in OTHER_SERVERS}
    machine_start = cpu_times()
    own_start = time.process_time()
    tasks.append(asyncio.create_task(load.probe_health()))
    phases = random.Random(0)
    tasks += [
        asyncio.create_task(load.upload(p["token"], p["session"], args.fps, phases.random()))
        for p in seed["patients"]
    ]
    started, wall_started = time.monotonic(), time.time()
    await asyncio.sleep(args.seconds)
    elapsed = time.monotonic() - started
    wall_ended = time.time()
    pauses = {role: gc_pauses(gc_dir / role, wall_started, wall_ended) for role in GC_ROLES}
    cpu_used = cpu_seconds(server_pid) - cpu_start
    others = {name: cpu_seconds_of(name) - others_start[name] for name in OTHER_SERVERS}
    stolen = steal_share(machine_start, cpu_times())
    own_used = time.process_time() - own_start
    streams_at_end = load.streams_open
    load.stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    accepted = len(load.upload_ms)
    return {
        "streams_wanted": wanted,
        "streams_held": held,
        "streams_open_at_end": streams_at_end,
        "stream_refusals": {
            str(s): load.stream_status.count(s) for s in set(load.stream_status) if s != 200
        },
        "uploads_accepted": accepted,
        "uploads_per_s": round(accepted / elapsed, 1),
        "upload_errors": load.upload_errors,
        "upload_ms": percentiles(load.upload_ms),
        "health_ms": percentiles(load.health_ms),
        "health_errors": load.health_errors,
        "upload_to_event_ms": percentiles(load.event_ms) if args.workers else None,
        "web_cpu_ms_per_upload": round(1000 * cpu_used / accepted, 1) if accepted else None,
        "web_cpu_share_of_one_core": round(cpu_used / elapsed, 2),
        # the local servers' processes, whatever else they served meanwhile (a quiet machine)
        "other_cpu_ms_per_upload": {
            label: round(1000 * others[name] / accepted, 1) if accepted else None
            for name, label in OTHER_SERVERS.items()
        },
        "load_generator_cpu_share_of_one_core": round(own_used / elapsed, 2),
        "cpu_steal_share": stolen,
        "web_gc_pauses": pauses["web"],
        "worker_gc_pauses": pauses["worker"] if args.workers else None,
        "web_rss_mib": {
            "before_streams": round(rss_before, 1),
            "with_streams": round(rss_streams, 1),
        },
        "memory_per_stream_kib": round(1024 * (rss_streams - rss_before) / held, 1)
        if held
        else None,
    }


async def floor(port: int, seed: dict[str, Any], server_pid: int, frame: bytes, n: int
                ) -> dict[str, Any]:  # fmt: skip
    """Server CPU ms per request, one request at a time on an idle server (no streams). The
    requests go round the seeded patients: the upload throttle keeps a list of each patient's
    last minute of uploads, and one patient sending them all would grow it far past what a
    camera at 2 frames/s does."""
    load = Load("127.0.0.1", port, frame)
    body, content_type = rawhttp.multipart("image", "frame.jpg", frame, "image/jpeg")
    kinds = {
        "health": ([load._request("GET", "/api/health")], 200),
        "me": ([load._request("GET", "/api/me", p["token"]) for p in seed["patients"]], 200),
        "upload": ([load._request("POST", f"/api/sessions/{p['session']}/frames", p["token"],
                                  body=body, content_type=content_type)
                    for p in seed["patients"]], 202),
    }  # fmt: skip
    conn = rawhttp.Connection("127.0.0.1", port)
    out: dict[str, Any] = {}
    try:
        for name, (requests, expected) in kinds.items():
            for i in range(20):  # warm-up: imports, connections, caches
                assert (await conn.request(requests[i % len(requests)])).status == expected, name
            cpu_start = cpu_seconds(server_pid)
            for i in range(n):
                response = await conn.request(requests[i % len(requests)])
                assert response.status == expected, (name, response.status, response.body)
            out[name] = round(1000 * (cpu_seconds(server_pid) - cpu_start) / n, 2)
    finally:
        conn.close()
    return {"floor_requests": n, "web_cpu_ms_per_request": out}


# --- the run -----------------------------------------------------------------------------


def holds_targets(step: dict[str, Any], *, with_workers: bool) -> bool:
    """Issue 12's targets: no errors; with workers upload-to-event p99 <= 1 s, without them
    upload p99 <= 100 ms and /api/health p99 <= 50 ms."""
    if step["upload_errors"] or step["health_errors"] or step["stream_refusals"]:
        return False
    if with_workers:
        p99 = step["upload_to_event_ms"]["p99"]
        return p99 is not None and p99 <= 1000
    upload, health = step["upload_ms"]["p99"], step["health_ms"]["p99"]
    return upload is not None and health is not None and upload <= 100 and health <= 50


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--patients", type=int, default=50, help="uploading patients, each streaming")
    ap.add_argument("--watchers", type=int, default=250, help="therapists holding a stream each")
    ap.add_argument("--fps", type=float, default=2.0, help="frames per second per patient")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--web-processes", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="CPU worker processes (0: web alone)")
    ap.add_argument(
        "--sweep",
        help="patient counts to try in turn, e.g. 2,4,6,8 (watchers: as many, at most "
        "--watchers); reports the largest that holds the targets",
    )
    ap.add_argument(
        "--floor",
        type=int,
        default=0,
        metavar="N",
        help="no load: N requests of each kind one at a time, server CPU ms per request",
    )
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output too)")
    args = ap.parse_args(argv)
    steps = [int(n) for n in args.sweep.split(",")] if args.sweep else []
    if steps:
        args.patients = max(steps)
        args.watchers = min(args.watchers, max(steps))
    fresh_database("capacity", redis=True)  # DATABASE_URL now names it
    sys.path.insert(0, str(ROOT))
    from tests.workers import support

    tmp = Path(tempfile.mkdtemp(prefix="capacity-bench-"))
    run = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "VAR_DIR": str(tmp / "var"),
        "MEDIA_ROOT": str(tmp / "media"),
        "CELERY_FRAMES_QUEUE": f"capacity-frames-{run}",
        "CELERY_LIGHT_QUEUE": f"capacity-light-{run}",
        "LIVE_MAX_STREAMS_PER_USER": "5",
        "UPLOAD_RATE": "100000/min",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",  # as in production: DEBUG keeps every query's SQL and timing in memory
        "ML_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [sys.executable, "-c", _SEED, str(args.patients), str(args.watchers)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = support.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "web.log"
    gc_dir = tmp / "gc"
    probed = {role: gc_probed(env, gc_dir / role) for role in GC_ROLES}
    web = support.web(probed["web"], log, port, args.web_processes).start()
    workers = [
        support.worker(probed["worker"], tmp / f"w{i}.log", f"{env['CELERY_FRAMES_QUEUE']},"
                       f"{env['CELERY_LIGHT_QUEUE']}", f"cap{i}-{run}", pool="solo").start()
        for i in range(args.workers)
    ]  # fmt: skip
    try:
        assert web.proc is not None
        support.wait_healthy(web, base)
        for w in workers:
            w.wait_for_output("ready.", timeout=180)
        frame = support.face_jpeg()
        if args.floor:
            figures = asyncio.run(floor(port, seed, web.proc.pid, frame, args.floor))
        elif not steps:
            figures = asyncio.run(run_load(args, port, seed, web.proc.pid, frame, gc_dir))
        else:
            figures = {"sweep": []}
            for n in steps:
                part = {"patients": seed["patients"][:n], "watchers": seed["watchers"][:n]}
                step = asyncio.run(run_load(args, port, part, web.proc.pid, frame, gc_dir))
                step = {"patients": n, "watchers": len(part["watchers"]), **step}
                step["holds_targets"] = holds_targets(step, with_workers=bool(args.workers))
                figures["sweep"].append(step)
                time.sleep(5)  # let the queue drain before the next step
            held = [s["patients"] for s in figures["sweep"] if s["holds_targets"]]
            figures["largest_patients_holding_targets"] = max(held) if held else 0
    finally:
        for w in workers:
            w.stop()
        web.stop()
    if args.floor:
        mode = "floor"
    elif args.workers:
        mode = f"web + {args.workers} worker(s)"
    else:
        mode = "web tier alone"
    result = {
        "benchmark": "capacity",
        "mode": mode,
        "server": f"uvicorn (deploy/serve.py), {args.web_processes} process(es)",
        "patients": args.patients,
        "watchers": args.watchers,
        "fps_per_patient": args.fps,
        "seconds": args.seconds,
        **figures,
        **environment(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
