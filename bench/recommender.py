"""Recommender latency: a 20-track playlist from the whole song catalogue, p50/p95/p99 in ms.

    python -m bench.recommender [--runs 200] [--length 20] [--json]

Runs in a PostgreSQL database of its own, `<name>_recommender_bench` next to the one
DATABASE_URL names (default postgres://postgres@127.0.0.1:5432/moodtune), created afresh,
migrated and filled with spotify_songs.csv.gz from SONGS_DIR by the product's importer.

Figures: `scoring` (the numpy path builder on the per-process cached matrix, including the
cache's version check), `scoring_learned` (the same with the learned term: a Thompson draw of a
response model, the gains over the whole catalogue and the departure cap) and `service`
(backend.recommendations.services.build_playlist end to end with the model on: history, mood,
the patient's response model over a population of POPULATION profiles, scoring, storing the
Recommendation and its 20 items). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.env import environment, fresh_database, percentiles

GOALS = ("calm", "uplift", "energise", "maintain")
POPULATION = 300  # patients with a response model while the service is timed


def _ms(seconds: list[float]) -> dict[str, float | None]:
    return percentiles([x * 1000.0 for x in seconds])


def ensure_catalogue(path: Path | None = None) -> None:
    from backend.catalogue.mood_model import songs_dir
    from backend.catalogue.services import import_tracks

    path = path or songs_dir() / "spotify_songs.csv.gz"
    with path.open("rb") as stream:
        import_tracks(stream=stream, filename=path.name, size=path.stat().st_size)


def run(*, runs: int = 200, length: int = 20, seed: int = 0) -> dict[str, Any]:
    from django.db import connection

    from backend.recommendations import learning, scoring, selectors

    rng = np.random.default_rng(seed)
    selectors._cache.update(version=None, catalogue=None)
    started = time.perf_counter()
    catalogue = selectors.active_catalogue()
    cold = time.perf_counter() - started
    if len(catalogue) < length:
        raise RuntimeError("the active catalogue is too small for the playlist length")
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
        "scoring_ms": _ms(scoring_times),
        # this process's CPU time: what the wall time would be on an otherwise idle machine
        "scoring_cpu_ms": _ms(scoring_cpu),
        "scoring_learned_ms": _ms(learned_times),
        "service_ms": _ms(service_times),
        "service_learning": {"population_profiles": POPULATION, "own_stretches": 200},
        "target_p95_ms": 50,
        "numpy": np.__version__,
        "database": connection.vendor,
        **environment(),
    }


def _evidence(rng: np.random.Generator, n: int) -> tuple[Any, Any]:
    """(one patient's evidence from 200 stretches, everyone's pooled from n such patients)."""
    from backend.recommendations import learning

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
    from django.db import transaction

    from backend.accounts.models import Role, User
    from backend.recommendations import services
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON line (the default too)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/moodtune")
    fresh_database("recommender", redis=False)
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ensure_catalogue()
    print(json.dumps(run(runs=args.runs, length=args.length)))


if __name__ == "__main__":
    main()
