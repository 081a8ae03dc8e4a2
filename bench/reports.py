"""Report benchmark: seeds one patient with N readings over two years (plus a caseload of
small patients) in its own PostgreSQL database, then times the report endpoints through the
full Django/DRF stack in-process and prints one JSON line.

    python -m bench.reports --readings 1000000 --json

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/h_reports_bench; the database is
created, migrated and seeded with SQL generate_series the first time, and reused while it
holds the requested sizes (--reseed forces a fresh one). Figures are medians of --runs runs
after one warm-up; the first trend request after seeding, which stores the rollups, is timed
on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.env import environment

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/h_reports_bench"
TARGETS_MS = {"trend_weekly_2y_ms": 200, "session_timeline_ms": 100, "caseload_50_ms": 300}
TARGET_CSV_ROWS_PER_S = 100_000


def _admin_connection(url: str) -> Any:
    import psycopg

    parts = urlparse(url)
    conn = psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn


def prepare_database(url: str, readings: int, patients: int, reseed: bool) -> bool:
    """Make sure the bench database exists; returns True when it must be (re)seeded.

    It may be dropped and created again, so only a database whose name ends in `_bench` is ever
    touched: anything else (say, the DATABASE_URL of a real deployment) is refused outright.
    """
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.endswith("_bench"):
        raise SystemExit(
            f"refusing to use database {name!r} for a benchmark: its name must end in _bench "
            "(the benchmark drops and recreates it)"
        )
    if not reseed:
        try:
            conn = psycopg.connect(url)
        except psycopg.Error:
            conn = None
        if conn is not None:
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT readings, patients FROM bench_meta")
                    if cur.fetchone() == (readings, patients):
                        return False
            except psycopg.Error:
                pass
            finally:
                conn.close()  # "with conn" would only end the transaction
    admin = _admin_connection(url)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return True


SEED_SQL = """
CREATE TEMP TABLE bench_s ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY started_at) - 1)::int AS s, id, started_at
FROM therapy_therapysession WHERE patient_id = %(pid)s;

UPDATE therapy_therapysession t
SET ended_at = b.started_at + (%(per)s + 60) * interval '1 second'
FROM bench_s b WHERE t.id = b.id;

INSERT INTO therapy_frame (captured_at, uploaded_at, image, content_hash, width, height,
    status, error, attempts, processed_at, model_version, session_id)
SELECT ts, ts, '', repeat('0', 64), 640, 480, 'done', '', 1, ts, 'bench@0', id
FROM (SELECT b.started_at + (g %% %(per)s) * interval '1 second' AS ts, b.id
      FROM generate_series(0, %(n)s - 1) g JOIN bench_s b ON b.s = g / %(per)s) x;

INSERT INTO therapy_emotionreading (captured_at, face_index, is_primary, box_x1, box_y1, box_x2,
    box_y2, landmarks, detection_score, p_angry, p_disgust, p_fear, p_happy, p_sad, p_surprise,
    p_neutral, emotion, confidence, valence, arousal, model_version, patient_id, frame_id,
    session_id)
SELECT captured_at, 0, true, 100, 80, 300, 320,
    '[[150,150],[250,150],[200,200],[160,260],[240,260]]', 0.99,
    CASE WHEN emo = 'angry' THEN top ELSE rest END,
    CASE WHEN emo = 'disgust' THEN top ELSE rest END,
    CASE WHEN emo = 'fear' THEN top ELSE rest END,
    CASE WHEN emo = 'happy' THEN top ELSE rest END,
    CASE WHEN emo = 'sad' THEN top ELSE rest END,
    CASE WHEN emo = 'surprise' THEN top ELSE rest END,
    CASE WHEN emo = 'neutral' THEN top ELSE rest END,
    emo, top, v, a, 'bench@0', %(pid)s, id, session_id
FROM (
    SELECT *, (1 - top) / 6 AS rest,
        CASE WHEN v > 0.35 THEN 'happy' WHEN v < -0.45 AND r2 < 0.3 THEN 'angry'
             WHEN v < -0.25 THEN 'sad' WHEN r2 > 0.93 THEN 'surprise'
             WHEN r2 < 0.05 THEN 'fear' ELSE 'neutral' END AS emo
    FROM (
        SELECT f.id, f.session_id, f.captured_at, 0.5 + random() * 0.45 AS top, random() AS r2,
            greatest(-1, least(1, 0.35 * sin(b.s / 19.0) - 0.05 + 0.25 * (f.captured_at -
                b.started_at > interval '10 minutes')::int + (random() - 0.5) * 0.6)) AS v,
            greatest(-1, least(1, 0.2 * cos(b.s / 11.0) + (random() - 0.5) * 0.5)) AS a
        FROM therapy_frame f JOIN bench_s b ON b.id = f.session_id
    ) y
) z;

INSERT INTO therapy_moodcheckin (patient_id, session_id, phase, valence, arousal, word, note,
    created_at)
SELECT %(pid)s, b.id, p.phase, round((random() * 1.4 - 0.7)::numeric, 2), 0, 'ok', '',
    b.started_at + CASE WHEN p.phase = 'before' THEN interval '0' ELSE
        (%(per)s + 30) * interval '1 second' END
FROM bench_s b CROSS JOIN (VALUES ('before'), ('after')) p(phase);
"""


def seed_patient(pid: int, *, sessions: int, readings: int, first_day: Any) -> None:
    """Daily sessions from first_day sharing the readings (one a second, the last may be
    shorter)."""
    per_session = -(-readings // sessions)
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO therapy_therapysession (goal, started_at, notes, patient_id) "
            "SELECT (ARRAY['calm','uplift','energise','maintain'])[1 + s %% 4], "
            "%(t0)s + s * interval '1 day' + (random() * 7200)::int * interval '1 second', '', "
            "%(pid)s FROM generate_series(0, %(sessions)s - 1) s",
            {"t0": first_day, "pid": pid, "sessions": sessions},
        )
        cur.execute(SEED_SQL, {"pid": pid, "per": per_session, "n": readings})


def seed(readings: int, patients: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from backend.accounts import services
    from backend.accounts.models import Role

    therapist = services.create_user(
        username="bench-therapist", password=secrets.token_urlsafe(16), role=Role.THERAPIST
    )
    therapist.time_zone = "Europe/London"
    therapist.save()
    today = timezone.now().replace(hour=17, minute=0, second=0, microsecond=0)
    for i in range(patients):
        patient = services.create_user(
            username=f"bench-patient-{i:02d}", password=secrets.token_urlsafe(16), role=Role.PATIENT
        )
        services.assign(therapist=therapist, patient=patient)
        if i == 0:  # the big one: a session a day for two years
            sessions = 730
            seed_patient(
                patient.pk,
                sessions=sessions,
                readings=readings,
                first_day=today - timedelta(days=sessions + 1),
            )
        else:  # a caseload: a session every third day for 90 days, 10 minutes each
            seed_patient(
                patient.pk, sessions=30, readings=30 * 600, first_day=today - timedelta(days=91)
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
        cur.execute("CREATE TABLE bench_meta (readings int, patients int)")
        cur.execute("INSERT INTO bench_meta VALUES (%s, %s)", [readings, patients])


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), samples


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(runs: int) -> dict[str, Any]:
    from django.utils import timezone
    from rest_framework.test import APIClient

    from backend.accounts.models import User
    from backend.reports import services
    from backend.therapy.models import EmotionReading, TherapySession

    therapist = User.objects.get(username="bench-therapist")
    big = User.objects.get(username="bench-patient-00")
    client = APIClient()
    client.force_authenticate(therapist)
    today = timezone.now().date()
    # the seeded history starts 731 days ago (local evening), so this covers all of it
    two_years = {"start": str(today - timedelta(days=732)), "end": str(today)}

    def get(url: str, params: dict[str, Any] | None = None) -> Any:
        response = client.get(url, params or {})
        assert response.status_code == 200, response.content[:300]
        return response

    trend_url = f"/api/reports/patients/{big.pk}/trend"
    sessions = TherapySession.objects.filter(patient=big)
    services.forget_rollups(session_ids=sessions.values_list("pk", flat=True))
    t = time.perf_counter()
    get(trend_url, {"bucket": "week", **two_years})
    first_trend_ms = (time.perf_counter() - t) * 1000
    caseload_url = "/api/reports/caseload"
    t = time.perf_counter()
    get(caseload_url)
    first_caseload_ms = (time.perf_counter() - t) * 1000

    middle = sessions.order_by("started_at")[sessions.count() // 2]
    figures: dict[str, Any] = {}
    figures["trend_weekly_2y_ms"], _ = timed(
        lambda: get(trend_url, {"bucket": "week", **two_years}), runs
    )
    figures["trend_daily_2y_ms"], _ = timed(
        lambda: get(trend_url, {"bucket": "day", **two_years}), runs
    )
    figures["session_timeline_ms"], _ = timed(
        lambda: get(f"/api/reports/sessions/{middle.pk}"), runs
    )
    figures["caseload_50_ms"], _ = timed(lambda: get(caseload_url), runs)
    figures["pdf_12_weeks_ms"], _ = timed(
        lambda: get(f"/api/reports/patients/{big.pk}/report.pdf"), max(1, runs // 2)
    )

    def stream_csv() -> dict[str, float]:
        rss0 = peak = _rss_mb()
        rows = 0
        t = time.perf_counter()
        response = get(
            f"/api/reports/patients/{big.pk}/export.csv", {"kind": "readings", **two_years}
        )
        for chunk in response.streaming_content:
            rows += chunk.count(b"\n")
            peak = max(peak, _rss_mb())
        seconds = time.perf_counter() - t
        return {"rows": rows - 1, "seconds": seconds, "rss_growth_mb": peak - rss0}

    csv_runs = [stream_csv() for _ in range(max(1, runs // 2))]
    diff = rollups_match_raw_sql(big.pk, today - timedelta(days=732), today)
    csv_rate = statistics.median(r["rows"] / r["seconds"] for r in csv_runs)
    return {
        "readings_big_patient": EmotionReading.objects.filter(patient=big).count(),
        "sessions_big_patient": sessions.count(),
        "caseload_patients": therapist.current_patients().count(),
        "first_trend_request_storing_rollups_ms": round(first_trend_ms, 1),
        "first_caseload_request_storing_rollups_ms": round(first_caseload_ms, 1),
        **{k: round(v, 1) for k, v in figures.items()},
        "csv_readings_rows": csv_runs[0]["rows"],
        "csv_rows_per_s": round(csv_rate),
        "csv_rss_growth_mb": round(max(r["rss_growth_mb"] for r in csv_runs), 1),
        "weekly_trend_vs_raw_sql_max_abs_diff": diff,
    }


def rollups_match_raw_sql(patient_id: int, first: Any, last: Any) -> float:
    """Largest difference between the rollup-based weekly trend (Europe/London) and the same
    figures aggregated straight from the raw readings; raises if bucket counts differ."""
    from zoneinfo import ZoneInfo

    from django.db import connection

    from backend.reports.selectors import patient_trend

    zone = "Europe/London"
    trend = patient_trend(patient_id, bucket="week", first=first, last=last, tz=ZoneInfo(zone))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT date_trunc('week', captured_at AT TIME ZONE %s)::date, count(*), "
            "avg(valence), stddev_samp(valence), avg(arousal), avg((emotion = 'sad')::int) "
            "FROM therapy_emotionreading WHERE patient_id = %s AND is_primary "
            "AND captured_at >= %s AND captured_at < %s GROUP BY 1",
            [zone, patient_id, trend["start"], trend["end"]],
        )
        raw = {row[0].isoformat(): row[1:] for row in cur.fetchall()}
    worst = 0.0
    for b in trend["buckets"]:
        count, valence, sd, arousal, sad = raw.get(b["start"][:10], (0, None, None, None, None))
        if count != b["readings"]:
            raise AssertionError(f"bucket {b['start']}: {b['readings']} readings, raw {count}")
        if count:
            pairs = [
                (valence, b["valence"]["mean"]),
                (sd, b["valence"]["sd"]),
                (arousal, b["arousal"]["mean"]),
                (float(sad), b["emotion_share"]["sad"]),
            ]
            worst = max([worst, *(abs(x - y) for x, y in pairs if x is not None)])
    return worst


def bench_environment(default_url: str, what: str) -> str:
    """Environment for a database benchmark run before django.setup(); returns DATABASE_URL."""
    url = os.environ.setdefault("DATABASE_URL", default_url)
    if not url.startswith("postgres"):
        sys.exit(f"the {what} benchmark needs PostgreSQL (DATABASE_URL=postgres://...)")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)

    url = bench_environment(DEFAULT_URL, "report")
    started_env = environment()  # the code as it is when the run starts
    fresh = prepare_database(url, args.readings, args.patients, args.reseed)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    seed_seconds = None
    if fresh:
        t = time.perf_counter()
        seed(args.readings, args.patients)
        seed_seconds = round(time.perf_counter() - t, 1)
        if not args.json:
            print(f"seeded in {seed_seconds} s", file=sys.stderr)
    figures = measure(args.runs)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    result = {
        "benchmark": "reports",
        **started_env,
        "load_average_1m": round(os.getloadavg()[0], 2),  # at the end
        "database": urlparse(url).path.lstrip("/"),
        "postgres": pg,
        "runs": args.runs,
        "seed_seconds": seed_seconds,
        **figures,
        "targets": {**TARGETS_MS, "csv_rows_per_s": TARGET_CSV_ROWS_PER_S},
        "meets_targets": {
            **{k: figures[k] <= v for k, v in TARGETS_MS.items()},
            "csv_rows_per_s": figures["csv_rows_per_s"] >= TARGET_CSV_ROWS_PER_S,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
