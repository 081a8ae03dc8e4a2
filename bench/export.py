"""Memory of a patient's data export: the streamed export against loading every row first.

    python -m bench.export --readings 200000 --json

Seeds (SQL generate_series, as the report benchmark does) one patient with N readings in 100
sessions in its own PostgreSQL database (DATABASE_URL, default h_export_bench), then measures
with tracemalloc, in one run: `privacy.export_patient_data` (lazy querysets streamed in chunks
into a zip on a temporary file), and what the export did up to commit 83a0321, loading every
row through Django's deletion collector (`NestedObjects`) and serialising them at once.
Prints one JSON line: peak Python memory, seconds, rows, zip size.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from bench.env import environment

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/h_export_bench"


def _peak(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """fn's result, its peak traced memory (MiB) and seconds."""
    tracemalloc.start()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak / 2**20, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    from bench.reports import bench_environment, prepare_database, seed_patient

    url = bench_environment(DEFAULT_URL, "export")

    started_env = environment()
    fresh = prepare_database(url, args.readings, 1, reseed=False)

    import django

    django.setup()
    from django.contrib.admin.utils import NestedObjects
    from django.core import serializers
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from backend.accounts import privacy, services
    from backend.accounts.models import Role, User

    call_command("migrate", verbosity=0)
    if fresh:
        patient = services.create_user(
            username="export-patient", password=secrets.token_urlsafe(16), role=Role.PATIENT
        )
        seed_patient(
            patient.pk,
            sessions=100,
            readings=args.readings,
            first_day=timezone.now() - timedelta(days=101),
        )
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
            cur.execute("CREATE TABLE bench_meta (readings int, patients int)")
            cur.execute("INSERT INTO bench_meta VALUES (%s, 1)", [args.readings])
    patient = User.objects.get(username="export-patient")

    def streamed() -> int:  # the patient downloads their own data
        with privacy.export_patient_data(actor=patient, patient=patient) as spool:
            return spool.seek(0, os.SEEK_END)

    def loaded_at_once() -> int:
        collector = NestedObjects(using="default")
        collector.collect([patient])
        text = json.dumps(
            {
                m._meta.label_lower: serializers.serialize("python", objs)
                for m, objs in collector.data.items()
            },
            default=str,
        )
        return len(text)

    size, stream_mib, stream_s = _peak(streamed)
    _, loaded_mib, loaded_s = _peak(loaded_at_once)
    rows = {m._meta.label_lower: qs.count() for m, qs in privacy.patient_querysets(patient).items()}
    result = {
        "benchmark": "patient_export",
        **started_env,
        "load_average_1m": round(os.getloadavg()[0], 2),  # at the end
        "database": urlparse(url).path.lstrip("/"),
        "rows": {k: v for k, v in rows.items() if v},
        "streamed": {
            "peak_mib": round(stream_mib, 1),
            "seconds": round(stream_s, 1),
            "zip_bytes": size,
        },
        "loaded_at_once": {"peak_mib": round(loaded_mib, 1), "seconds": round(loaded_s, 1)},
        "memory_ratio": round(loaded_mib / stream_mib, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
