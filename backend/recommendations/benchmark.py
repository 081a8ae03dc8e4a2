"""Recommender latency: a 20-track playlist from the active catalogue, p50/p95/p99 in ms.

Figures: `scoring` (the numpy path builder on the per-process cached matrix, including the
cache's version check), `scoring_learned` (the same with the learned term: a Thompson draw of a
response model, the gains over the whole catalogue and the departure cap) and `service`
(backend.recommendations.services.build_playlist end to end with the model on: history, mood,
the patient's response model over a population of POPULATION profiles, scoring, storing the
Recommendation and its 20 items), the latter in a transaction rolled back at the end so the
database is left as it was. Prints one JSON line.

    DATABASE_URL=postgres://... python manage.py benchmark_recommender [--import] [--runs 200]
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connection, transaction

from backend.catalogue.mood_model import songs_dir
from backend.recommendations import learning, scoring, selectors, services

GOALS = ("calm", "uplift", "energise", "maintain")
POPULATION = 300  # patients with a response model while the service is timed


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def ensure_catalogue(path: Path | None = None) -> None:
    from backend.catalogue.services import import_tracks

    path = path or songs_dir() / "spotify_songs.csv.gz"
    with path.open("rb") as stream:
        import_tracks(stream=stream, filename=path.name, size=path.stat().st_size)


def run(*, runs: int = 200, length: int = 20, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    selectors._cache.update(version=None, catalogue=None)
    started = time.perf_counter()
    catalogue = selectors.active_catalogue()
    cold = time.perf_counter() - started
    if len(catalogue) < length:
        raise RuntimeError("the active catalogue is too small: run with --import")
    starts = rng.uniform(-1, 1, size=(runs, 2))
    goals = rng.choice(GOALS, size=runs)
    for i in range(5):  # warm-up
        scoring.build_playlist(catalogue, start=tuple(starts[i]), goal=goals[i], length=length)
    scoring_times, scoring_cpu = [], []
    for start, goal in zip(starts, goals, strict=True):
        t0, c0 = time.perf_counter(), time.process_time()
        plan = scoring.build_playlist(
            selectors.active_catalogue(), start=(start[0], start[1]), goal=str(goal), length=length
        )
        scoring_times.append(time.perf_counter() - t0)
        scoring_cpu.append(time.process_time() - c0)
        if len(plan.picks) != length:
            raise RuntimeError(f"got {len(plan.picks)} tracks, wanted {length}")
    learned_times = []
    posterior = learning.posterior_for(*_evidence(rng, 2))
    for start, goal in zip(starts, goals, strict=True):
        t0 = time.perf_counter()
        direction = learning.goal_direction(str(goal), (start[0], start[1]))
        cat = selectors.active_catalogue()
        gain = (
            learning.gains(cat.features, posterior.sample(rng), direction)
            if direction is not None
            else None
        )
        scoring.build_playlist(
            cat, start=(start[0], start[1]), goal=str(goal), length=length, gain=gain
        )
        learned_times.append(time.perf_counter() - t0)
    service_times = _service_times(starts, goals, length, rng)
    return {
        "benchmark": "recommender",
        "playlist_length": length,
        "catalogue_active_tracks": len(catalogue),
        "runs": runs,
        "cold_load_ms": round(cold * 1000, 1),
        "scoring": _percentiles(scoring_times),
        # this process's CPU time: what the wall time would be on an otherwise idle machine
        "scoring_cpu": _percentiles(scoring_cpu),
        "scoring_learned": _percentiles(learned_times),
        "service": _percentiles(service_times),
        "service_learning": {"population_profiles": POPULATION, "own_stretches": 200},
        "target_p95_ms": 50,
        "device": {"cpu": _cpu(), "cores": os.cpu_count(), "machine": platform.machine()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "database": connection.vendor,
        "commit": _commit(),
    }


def _evidence(rng: np.random.Generator, n: int) -> tuple[learning.Evidence, learning.Evidence]:
    """(one patient's evidence from 200 stretches, everyone's pooled from n such patients)."""
    own = learning.Evidence.empty()
    pooled = learning.Evidence.empty()
    for i in range(n):
        x = rng.uniform(-1, 1, (200, learning.D))
        x[:, 0] = 1.0
        evidence = learning.Evidence.of(x, rng.normal(0, 0.05, (200, 2)), np.full(200, 0.002))
        own = evidence if i == 0 else own
        pooled = pooled + evidence
    return own, pooled


def _service_times(
    starts: np.ndarray, goals: np.ndarray, length: int, rng: np.random.Generator
) -> list[float]:
    from backend.accounts.models import Role, User
    from backend.recommendations.models import ResponseProfile
    from backend.therapy.models import TherapySession

    times = []
    with transaction.atomic():
        patient = User.objects.create(username="benchmark-recommender", role=Role.PATIENT)
        others = User.objects.bulk_create(
            User(username=f"benchmark-population-{i}", role=Role.PATIENT)
            for i in range(POPULATION - 1)
        )
        own, _ = _evidence(rng, 1)
        ResponseProfile.objects.bulk_create(
            ResponseProfile(patient=p, evidence=own.to_json(), sessions=10)
            for p in [patient, *others]
        )
        for start, goal in zip(starts, goals, strict=True):
            session = TherapySession.objects.create(
                patient=patient, goal=str(goal), mood_valence=start[0], mood_arousal=start[1]
            )
            t0 = time.perf_counter()
            services.build_playlist(session=session, length=length)
            times.append(time.perf_counter() - t0)
        transaction.set_rollback(True)  # leave the database as it was
    return times
