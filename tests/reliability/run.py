"""`make reliability`: the reliability and security suite plus the load benchmark, against the
local PostgreSQL and Redis, in bounded time; prints one JSON document of figures.

    python -m tests.reliability.run [--patients 3] [--seconds 20]

1. pytest over tests/deploy and tests/reliability with RELIABILITY=1, so the fault scenarios
   under load run too (worker kill -9, Redis kill/restart, PostgreSQL connections terminated,
   poison messages); each test leaves its figures in a temporary folder (report.py).
2. the load benchmark (load.py): simulated patients at 2 frames/s each, real uvicorn (ASGI) + Celery
   workers, then the loss/duplicate check.
DATABASE_URL / REDIS_URL default to the local services (database moodtune_reliability, created
if missing; Redis db 0). Exit status 1 if any test failed or anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.conftest import ROOT

SUITES = [
    "tests/deploy",
    "tests/reliability",
    "tests/workers/test_lost_messages.py",
    "tests/workers/test_time_limits.py",
]
LOAD_FIELDS = (
    "patients", "fps_per_patient", "seconds", "workers", "worker_ml_device", "sent",
    "accepted_202", "refused", "error_rate",
    "sustained_upload_fps", "processed_fps", "upload_ms", "upload_to_final_ms", "lost",
    "duplicated", "statuses",
)  # fmt: skip


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or None,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def run_suite(report_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    junit = report_dir / "junit.xml"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider",
         f"--junitxml={junit}"],
        cwd=ROOT,
        env={**env, "RELIABILITY": "1", "RELIABILITY_REPORT_DIR": str(report_dir)},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    suite = ET.parse(junit).getroot().find("testsuite")  # our own pytest's output
    assert suite is not None
    cases = list(suite.iter("testcase"))
    failed = [
        f"{c.get('classname')}::{c.get('name')}"
        for c in cases
        if c.find("failure") is not None or c.find("error") is not None
    ]
    xfailed = [
        c.get("name")
        for c in cases
        if (s := c.find("skipped")) is not None and s.get("type") == "pytest.xfail"
    ]
    skipped = sum(1 for c in cases if c.find("skipped") is not None) - len(xfailed)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
    return {
        "tests": len(cases),
        "passed": len(cases) - len(failed) - skipped - len(xfailed),
        "failed": failed,
        "skipped": skipped,
        "xfailed_known_bugs": xfailed,
        "seconds": round(time.monotonic() - started, 1),
    }


def _hostile_inputs() -> dict[str, int]:
    from tests.reliability import hostile_corpus, test_hostile_uploads
    from tests.reliability.faults import POISON, UNDECODABLE

    return {
        "image_corpus": len(hostile_corpus.CORPUS),
        "upload_payloads": len(test_hostile_uploads.PAYLOADS),
        "json_payloads": len(test_hostile_uploads.JSON_PAYLOADS),
        "poison_messages": len(POISON) + len(UNDECODABLE) + 1,  # + the wrong-shaped body
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-suite", action="store_true", help="only the load benchmark")
    args = parser.parse_args()
    started = time.monotonic()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/moodtune_reliability")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    _ensure_database(os.environ["DATABASE_URL"])
    report_dir = Path(tempfile.mkdtemp(prefix="reliability-report-"))
    result: dict[str, Any] = {"report": "make reliability"}
    if not args.skip_suite:
        result["suite"] = run_suite(report_dir, dict(os.environ))
    import logging

    import django

    django.setup()
    from django.core.management import call_command

    from bench.env import environment
    from tests.reliability.load import run_load

    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    load = run_load(patients=args.patients, seconds=args.seconds, fps=2.0, workers=1, drain=300)
    figures = {p.stem: json.loads(p.read_text()) for p in report_dir.glob("*.json")}
    faults = {k.removeprefix("fault-"): v for k, v in figures.items() if k.startswith("fault-")}
    fuzz = {k.removeprefix("fuzz-"): v for k, v in figures.items() if k.startswith("fuzz-")}
    result |= {
        "load": {k: load[k] for k in LOAD_FIELDS},
        "faults": {
            name: {
                k: f.get(k)
                for k in ("survived", "fault", "users_saw", "accepted", "lost", "duplicated")
                if k in f
            }
            | (
                {
                    "frames_sent": f["users_saw"].get("sent"),
                    "final": sum(
                        n for s, n in f["statuses"].items() if s in ("done", "no_face", "failed")
                    ),
                    "orphaned_files": f["unreferenced_files"],
                }
                if "statuses" in f
                else {}
            )
            | {k: v for k, v in f.items() if k == "worker_exited"}
            for name, f in sorted(faults.items())
        },
        "faults_survived": f"{sum(1 for f in faults.values() if f.get('survived'))}/{len(faults)}",
        "fuzz": {
            persona: {"operations": f["operations"], "inputs": f["inputs"]}
            | {"server_errors": len(f["server_errors"])}
            for persona, f in sorted(fuzz.items())
        },
        "hostile_inputs": _hostile_inputs(),
        "lost_total": load["lost"] + sum(f.get("lost", 0) for f in faults.values()),
        "duplicated_total": load["duplicated"]
        + sum(f.get("duplicated", 0) for f in faults.values()),
        "elapsed_s": round(time.monotonic() - started, 1),
        **environment(),
    }
    print(json.dumps(result, indent=1))
    failed = bool(result.get("suite", {}).get("failed"))
    return 1 if failed or result["lost_total"] or result["duplicated_total"] else 0


if __name__ == "__main__":
    sys.exit(main())
