"""Fault scenarios under load, each returning a JSON-able report (tests/reliability/
test_faults.py asserts on them; tests/reliability/run.py prints them).

Every scenario runs simulated patients (load.py) against the real stack (stack.py), injects
its fault in a thread while the uploads go on, then proves that every accepted (202) frame
reached a final status exactly once (lost = 0, duplicated = 0), that refused uploads left no
row and no file, and records what the users saw (the HTTP answers by status and error code).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.reliability.load import (
    Patient,
    delete_patients,
    make_patients,
    simulate,
    summarise,
    verify,
)
from tests.reliability.stack import Stack
from tests.workers import support


def _orphans(stack: Stack, patients: list[Patient]) -> dict[str, int]:
    """Rows and files that no accepted upload explains."""
    from backend.therapy.models import Frame

    frames = Frame.objects.filter(session_id__in=[p.session_id for p in patients])
    referenced = {name for name in frames.exclude(image="").values_list("image", flat=True)}
    files = {str(p.relative_to(stack.media)) for p in stack.media.rglob("*") if p.is_file()}
    return {"rows": frames.count(), "unreferenced_files": len(files - referenced)}


def _scenario(
    name: str,
    *,
    patients: int,
    seconds: float,
    stack_kwargs: dict[str, Any],
    fault: Callable[[Stack, float], dict[str, Any]],
    drain: float,
    after: Callable[[Stack, list[int]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    tag = f"{name[:6]}{int(time.time()) % 100000}"
    people = make_patients(patients, tag)
    stack = Stack(Path(tempfile.mkdtemp(prefix=f"reliability-{name}-")), **stack_kwargs)
    injected: dict[str, Any] = {}
    try:
        stack.start()
        warm = simulate(stack.base_url, people[:1], seconds=1, fps=2)
        verify([u.frame_id for u in warm if u.frame_id], timeout=120)

        def during(total: float) -> None:
            injected.update(fault(stack, total))

        uploads = simulate(stack.base_url, people, seconds=seconds, during=during)
        accepted = [u.frame_id for u in uploads if u.frame_id] + [
            u.frame_id for u in warm if u.frame_id
        ]
        extra = after(stack, accepted) if after else {}
        checked = verify(accepted, timeout=drain)
        orphans = _orphans(stack, people)
        report = {
            "scenario": name,
            "fault": injected,
            "users_saw": summarise(uploads, seconds),
            **{k: checked[k] for k in ("accepted", "statuses", "lost", "duplicated")},
            "done_without_reading": checked["done_without_reading"],
            "rows_beyond_accepted": orphans["rows"] - len(accepted),
            "unreferenced_files": orphans["unreferenced_files"],
            **extra,
        }
        report["survived"] = (
            report["lost"] == 0
            and report["duplicated"] == 0
            and report["done_without_reading"] == 0
            and report["rows_beyond_accepted"] == 0
            and report["unreferenced_files"] == 0
        )
        return report
    finally:
        stack.stop()
        delete_patients(people)


# --- the faults ---------------------------------------------------------------------------


def worker_killed_mid_batch(*, patients: int = 2, seconds: float = 10) -> dict[str, Any]:
    """kill -9 one of two workers while it holds claimed frames; it comes back 2 s later (the
    container's restart policy). Its frames are taken over when their claim lease expires."""

    def fault(stack: Stack, total: float) -> dict[str, Any]:
        from backend.therapy.models import Frame

        time.sleep(total * 0.3)
        deadline = time.monotonic() + total
        held = 0
        while time.monotonic() < deadline:
            held = Frame.objects.filter(status="processing").count()
            if held:
                break
            time.sleep(0.02)
        stack.kill_worker(0)
        time.sleep(2.0)
        stack.start_worker(0)
        return {"kill": "SIGKILL worker 0 of 2", "frames_processing_at_kill": held}

    return _scenario(
        "worker_killed_mid_batch",
        patients=patients,
        seconds=seconds,
        stack_kwargs={
            "workers": 2,
            # short lease and visibility so the take-over happens within the run
            "worker_env": {
                "WORKER_BATCH_SIZE": "4",
                "WORKER_TASK_TIME_LIMIT": "8",
                "WORKER_VISIBILITY_TIMEOUT": "10",
            },
        },
        fault=fault,
        drain=240,
    )


def _private_broker_stack() -> dict[str, Any]:
    """One worker on a Redis of the scenario's own (it gets killed or flushed), re-sending lost
    messages after 10 s instead of 300."""
    return {
        "own_redis_port": support.free_port(),
        "workers": 1,
        "worker_env": {"FRAME_RESEND_AFTER_SECONDS": "10"},
    }


def redis_restarted(*, patients: int = 2, seconds: float = 12) -> dict[str, Any]:
    """kill -9 the (private) Redis broker mid-load, 3 s down, restart on its append-only file.
    Uploads while it is down are refused with 503 broker_unavailable and leave nothing; a
    message lost in the last second before the kill (appendfsync everysec) is re-sent by the
    workers' heartbeat sweep once it is older than FRAME_RESEND_AFTER_SECONDS: no operator."""

    def fault(stack: Stack, total: float) -> dict[str, Any]:
        time.sleep(total * 0.35)
        stack.restart_redis(down_seconds=3.0)
        return {"kill": "SIGKILL redis-server, restarted after 3 s", "port": stack.own_redis_port}

    return _scenario(
        "redis_restarted",
        patients=patients,
        seconds=seconds,
        stack_kwargs=_private_broker_stack(),
        fault=fault,
        drain=240,
    )


def broker_lost_every_message(*, patients: int = 2, seconds: float = 12) -> dict[str, Any]:
    """Mid-load, with the worker down for a while so that messages pile up, the broker forgets
    everything it holds (FLUSHDB of its private Redis): every queued message is gone after its
    upload was answered 202. The restarted worker's heartbeat sweep re-sends each queued frame
    whose message is older than FRAME_RESEND_AFTER_SECONDS."""

    def fault(stack: Stack, total: float) -> dict[str, Any]:
        import redis

        time.sleep(total * 0.25)
        stack.kill_worker(0)  # no consumer for a while: messages pile up in the broker
        time.sleep(total * 0.35)
        client = redis.Redis(host="127.0.0.1", port=stack.own_redis_port)
        try:
            queued = sum(
                client.llen(key)
                for key in client.scan_iter(match="*frames*")
                if client.type(key) == b"list"  # the queues (kombu also keeps binding sets)
            )
            client.flushdb()
        finally:
            client.close()
        stack.start_worker(0)
        return {"flushdb": "broker Redis, worker down", "messages_dropped": queued}

    return _scenario(
        "broker_lost_every_message",
        patients=patients,
        seconds=seconds,
        stack_kwargs=_private_broker_stack(),
        fault=fault,
        drain=240,
    )


def postgres_connections_terminated(*, patients: int = 2, seconds: float = 12) -> dict[str, Any]:
    """The shared PostgreSQL server is not restarted: every backend connection of this
    database (web and workers) is killed with pg_terminate_backend, twice, mid-load."""

    def fault(stack: Stack, total: float) -> dict[str, Any]:
        killed = []
        for share in (0.3, 0.35):
            time.sleep(total * share)
            killed.append(stack.terminate_database_connections())
        return {"pg_terminate_backend": "all connections of the test database", "killed": killed}

    return _scenario(
        "postgres_connections_terminated",
        patients=patients,
        seconds=seconds,
        stack_kwargs={"workers": 1},
        fault=fault,
        drain=240,
    )


POISON: list[tuple[str, list[Any]]] = [
    ("analyse_frame", ["not-a-number"]),
    ("analyse_frame", [None]),
    ("analyse_frame", []),
    ("analyse_frame", [1, 2, 3]),
    ("analyse_frame", [{"id": 1}]),
    ("analyse_frame", [10**15]),
    ("analyse_frame", [-5]),
    ("analyse_frame", ["1; DROP TABLE therapy_frame"]),
    ("refresh_recommendations", ["x"]),
    ("no_such_task", [1]),
]
# Message bodies the worker cannot decode: a pickle (not an accepted content type), bad JSON.
UNDECODABLE: list[tuple[bytes, str]] = [
    (b"\x80\x04garbage-pickle", "application/x-python-serialize"),
    (b"{not json", "application/json"),
]


def poison_messages(*, patients: int = 1, seconds: float = 6) -> dict[str, Any]:
    """Malformed tasks, undecodable messages and duplicate deliveries of every accepted frame:
    the worker logs and drops them, keeps its PID, and keeps analysing real frames."""

    def fault(stack: Stack, total: float) -> dict[str, Any]:
        from kombu import Connection, Exchange, Producer

        from backend.config.celery import app

        for name, args in POISON:
            app.send_task(name, args=args, queue=stack.queues[0])
        raw = 0
        with Connection(stack.redis_url) as conn:
            producer = Producer(conn.channel())
            for body, content_type in UNDECODABLE:
                producer.publish(
                    body,
                    exchange=Exchange(""),
                    routing_key=stack.queues[0],
                    content_type=content_type,
                    content_encoding="binary" if b"\x80" in body else "utf-8",
                    headers={"task": "analyse_frame", "id": f"poison-{raw}"},
                )
                raw += 1
        return {"malformed_tasks": len(POISON), "undecodable_messages": raw}

    def after(stack: Stack, accepted: list[int]) -> dict[str, Any]:
        from backend.config.celery import app
        from tests.reliability.load import wait_final

        pid = stack.worker_procs[0].proc.pid  # type: ignore[union-attr]
        wait_final(accepted, timeout=120)
        for frame_id in accepted:  # duplicate delivery of every frame, after it is final
            app.send_task("analyse_frame", args=[frame_id], queue=stack.queues[0])
        time.sleep(5.0)
        proc = stack.worker_procs[0].proc  # type: ignore[union-attr]
        return {
            "duplicate_deliveries": len(accepted),
            "worker_alive_same_pid": proc.poll() is None and proc.pid == pid,
        }

    report = _scenario(
        "poison_messages",
        patients=patients,
        seconds=seconds,
        stack_kwargs={"workers": 1},
        fault=fault,
        after=after,
        drain=180,
    )
    report["survived"] = report["survived"] and report["worker_alive_same_pid"]
    return report


def wrong_shaped_message_body() -> dict[str, Any]:
    """A JSON message whose headers name analyse_frame but whose body is not Celery's
    (args, kwargs, embed) triple. Celery 5.7's Request.__init__ fails to unpack it outside the
    task's error handling: 'Unrecoverable error', the worker exits, and the late-acknowledged
    message is restored to the queue, so a restarted worker takes it again (a crash loop).
    Reported; this records whether it still happens."""
    from kombu import Connection, Exchange, Producer

    stack = Stack(Path(tempfile.mkdtemp(prefix="reliability-shape-")), workers=1)
    try:
        stack.start()
        proc = stack.worker_procs[0].proc  # type: ignore[union-attr]
        with Connection(stack.redis_url) as conn:
            Producer(conn.channel()).publish(
                json.dumps({"task": "analyse_frame"}).encode(),
                exchange=Exchange(""),
                routing_key=stack.queues[0],
                content_type="application/json",
                content_encoding="utf-8",
                headers={"task": "analyse_frame", "id": "poison-shape", "lang": "py"},
            )
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.2)
        exited = proc.poll() is not None  # type: ignore[union-attr]
        return {
            "scenario": "wrong_shaped_message_body",
            "worker_exited": exited,
            "unrecoverable_error_logged": "Unrecoverable error" in stack.worker_log(0),
            "survived": not exited,
        }
    finally:
        stack.stop()


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "worker_killed_mid_batch": worker_killed_mid_batch,
    "redis_restarted": redis_restarted,
    "postgres_connections_terminated": postgres_connections_terminated,
    "poison_messages": poison_messages,
    "wrong_shaped_message_body": wrong_shaped_message_body,
}
