"""Offline evaluation of the learning recommender against simulated patients.

    python -m bench.music_learning --patients 200 --sessions 20 --seed 0 --json

Replays many sessions against the real recommender code (backend.recommendations.scoring's
playlist builder, learning.py's response model and Thompson draws, attribution.py's effect
measurement from faces) and compares three policies on the same patients, moods and goals:

- static: the iso path alone (the recommender with learning off);
- learning: the iso path with each patient's response model, updated after every session from
  what the simulated faces showed (population prior pooled from the other patients so far);
- oracle: the same builder given the patient's true response (no exploration): the best the
  learning recommender could do if it knew the patient. Regret = oracle progress - progress.

Simulated patient (all hidden from the recommender):
- a response matrix W (D x 2, learning.FEATURES -> change in valence and arousal per track):
  the population's POPULATION_W (cheerful and major-key music brightens; energetic, fast music
  raises arousal, acoustic music lowers it) plus a personal deviation N(0, PERSONAL_SD^2) per
  coefficient, so what helps differs from person to person;
- drift: W takes a random step N(0, DRIFT_SD^2) per coefficient before each session;
- each played track changes the mood by W^T x plus N(0, TRACK_SD^2) per component; the change
  unfolds linearly over the track (at most TRACK_SECONDS are simulated), and the camera sees
  a face each second with probability FACE_RATE, reading the mood with N(0, FACE_SD^2) noise
  per component; the recommender learns only from those faces, through attribution.py.

Each session draws a goal (calm, uplift or energise: `maintain` has no direction to learn) and
a starting mood uniformly in [-0.8, 0.8]^2; the playlist has --tracks tracks (default 20, the
product's default), built once at the session's start. Progress is the true expected change
(W^T x, no noise) projected on the direction from the starting mood to the goal, summed over
the playlist; goal attainment is progress / distance to the goal's point (capped at 1).

Printed (JSON): regret_reduction_by_session_10 = 1 - cumulative learning regret / cumulative
static regret over sessions 1..10 (mean over patients); worst_session_ratio = the largest
per-session mean learning regret / mean static regret; per-session curves; sessions needed to
halve the static regret; settings and environment.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.env import environment

POPULATION_W = {  # feature -> (effect on valence, effect on arousal) per track
    "intercept": (0.0, -0.005),
    "valence": (0.03, 0.005),
    "energy": (0.0, 0.035),
    "tempo": (0.0, 0.015),
    "acousticness": (0.005, -0.015),
    "mode": (0.01, 0.0),
}
PERSONAL_SD = 0.03
DRIFT_SD = 0.003
TRACK_SD = 0.03
FACE_SD = 0.2
FACE_RATE = 0.8
TRACK_SECONDS = 180


def load_catalogue(path: Path) -> tuple[Any, np.ndarray]:
    """The song catalogue as the product imports it: the importer's row cleaning, the mood
    model's placement, learning's features. (scoring.Catalogue, durations in seconds)."""
    from backend.catalogue import csv_format
    from backend.catalogue.mood_model import MOODS
    from backend.catalogue.services import with_mood
    from backend.recommendations import learning, scoring

    with gzip.open(path, "rt", encoding="utf-8") as text:
        parsed = csv_format.parse(text, max_rows=1_000_000)
    rows = list({r["external_id"]: r for r in parsed.rows}.values())
    with_mood(rows)
    artists: dict[str, int] = {}
    column = lambda name: [r[name] for r in rows]  # noqa: E731
    catalogue = scoring.Catalogue(
        ids=np.arange(1, len(rows) + 1, dtype=np.int64),
        valence=np.array(column("mood_valence")),
        arousal=np.array(column("mood_arousal")),
        tempo=np.array(column("tempo"), dtype=np.float64),
        energy=np.array(column("energy"), dtype=np.float64),
        artist=np.array(
            [artists.setdefault(r["artist"].lower(), len(artists)) for r in rows], dtype=np.int64
        ),
        region=np.array([MOODS.index(r) for r in column("mood_region")], dtype=np.int64),
        features=learning.feature_matrix({name: column(name) for name in learning.INPUTS}),
    )
    seconds = np.minimum(np.array(column("duration_ms")) / 1000.0, TRACK_SECONDS)
    return catalogue, seconds


@dataclass
class Patient:
    w: np.ndarray  # (D, 2) true response
    evidence: Any  # learning.Evidence of the learning policy


def _true_population() -> np.ndarray:
    from backend.recommendations import learning

    w = np.zeros((learning.D, 2))
    for name, effect in POPULATION_W.items():
        w[learning.FEATURES.index(name)] = effect
    return w


def _faces(
    rng: np.random.Generator, seconds: float, start: np.ndarray, change: np.ndarray, world: World
) -> tuple[np.ndarray, np.ndarray]:
    """Face readings (times, (n, 2) moods) over a track whose effect unfolds linearly, with
    BEFORE seconds of the previous mood ahead of it (the attribution's baseline window)."""
    from backend.recommendations import attribution

    t = np.arange(-attribution.BEFORE, seconds, 1.0)
    t = t[rng.random(t.shape[0]) < world.face_rate]
    progress = np.clip(t / seconds, 0.0, 1.0)[:, None]
    mood = start + progress * change + rng.normal(0.0, world.face_sd, (t.shape[0], 2))
    return t, np.clip(mood, -1.0, 1.0)


@dataclass(frozen=True)
class World:
    """The simulator's hidden truths and noise (defaults: the module's constants)."""

    population_scale: float = 1.0  # x POPULATION_W (0 = no effect shared by patients)
    personal_sd: float = PERSONAL_SD
    drift_sd: float = DRIFT_SD
    track_sd: float = TRACK_SD
    face_sd: float = FACE_SD
    face_rate: float = FACE_RATE


def run(
    *, patients: int, sessions: int, seed: int, tracks: int, songs: Path, world: World = World()
) -> dict[str, Any]:
    from backend.recommendations import attribution, learning, scoring

    started = time.perf_counter()
    catalogue, seconds = load_catalogue(songs)
    rng = np.random.default_rng(seed)
    truth = world.population_scale * _true_population()
    people = [
        Patient(truth + rng.normal(0.0, world.personal_sd, truth.shape), learning.Evidence.empty())
        for _ in range(patients)
    ]
    goals = ("calm", "uplift", "energise")
    regret = {"static": np.zeros((patients, sessions)), "learning": np.zeros((patients, sessions))}
    attained = {k: np.zeros((patients, sessions)) for k in ("static", "learning", "oracle")}
    measured = np.zeros((patients, sessions))
    pooled = learning.Evidence.empty()
    for s in range(sessions):
        for p, person in enumerate(people):
            person.w = person.w + rng.normal(0.0, world.drift_sd, person.w.shape)
            goal = goals[int(rng.integers(len(goals)))]
            start = tuple(float(x) for x in rng.uniform(-0.8, 0.8, 2))
            direction = learning.goal_direction(goal, start)
            if direction is None:  # already at the goal: nothing to learn or regret
                continue
            distance = float(np.linalg.norm(np.array(learning.GOAL_POINTS[goal]) - start))
            true_gain = learning.gains(catalogue.features, person.w, direction)
            posterior = learning.posterior_for(person.evidence, pooled)
            draw = posterior.sample(rng)
            plans = {
                "static": scoring.build_playlist(catalogue, start=start, goal=goal, length=tracks),
                "learning": scoring.build_playlist(
                    catalogue,
                    start=start,
                    goal=goal,
                    length=tracks,
                    gain=learning.gains(catalogue.features, draw, direction),
                ),
                "oracle": scoring.build_playlist(
                    catalogue, start=start, goal=goal, length=tracks, gain=true_gain
                ),
            }
            rows = {
                k: np.array([pick.track_id for pick in plan.picks]) - 1 for k, plan in plans.items()
            }
            progress = {k: float(true_gain[r].sum()) for k, r in rows.items()}
            for k in attained:
                attained[k][p, s] = min(1.0, max(0.0, progress[k] / distance))
            for k in regret:
                regret[k][p, s] = progress["oracle"] - progress[k]
            # the learning policy's session as the camera saw it, measured like the product
            x, y, var = [], [], []
            mood = np.array(start)
            for row in rows["learning"]:
                change = person.w.T @ catalogue.features[row] + rng.normal(0.0, world.track_sd, 2)
                t, faces = _faces(rng, float(seconds[row]), mood, change, world)
                seen = attribution.face_change(
                    t, faces[:, 0], faces[:, 1], 0.0, float(seconds[row])
                )
                mood = np.clip(mood + change, -1.0, 1.0)
                if seen is None:
                    continue
                x.append(catalogue.features[row])
                y.append(seen[1])
                var.append(seen[2])
            measured[p, s] = len(x)
            if x:
                new = learning.Evidence.of(np.array(x), np.array(y), np.array(var))
                person.evidence = person.evidence + new
                pooled = pooled + new
    return _report(regret, attained, measured, sessions, started, catalogue)


def _report(
    regret: dict[str, np.ndarray],
    attained: dict[str, np.ndarray],
    measured: np.ndarray,
    sessions: int,
    started: float,
    catalogue: Any,
) -> dict[str, Any]:
    static, learned = regret["static"].mean(axis=0), regret["learning"].mean(axis=0)
    by = min(10, sessions)
    ratio = learned / np.maximum(static, 1e-12)
    halved = next((i + 1 for i, r in enumerate(ratio) if r <= 0.5), None)
    return {
        "benchmark": "music_learning",
        "regret_reduction_by_session_10": round(
            1.0 - float(learned[:by].sum()) / float(static[:by].sum()), 4
        ),
        "worst_session_ratio": round(float(ratio.max()), 4),
        "worst_session": int(ratio.argmax()) + 1,
        "first_session_with_half_the_static_regret": halved,
        "targets": {"regret_reduction_by_session_10": ">= 0.30", "worst_session_ratio": "<= 1.05"},
        "per_session": {
            "mean_regret_static": [round(float(v), 4) for v in static],
            "mean_regret_learning": [round(float(v), 4) for v in learned],
            "regret_ratio": [round(float(v), 4) for v in ratio],
            "goal_attainment_static": [round(float(v), 4) for v in attained["static"].mean(0)],
            "goal_attainment_learning": [round(float(v), 4) for v in attained["learning"].mean(0)],
            "goal_attainment_oracle": [round(float(v), 4) for v in attained["oracle"].mean(0)],
            "measured_tracks_per_patient": [round(float(v), 2) for v in measured.mean(0)],
        },
        "cumulative_regret": {
            "static": round(float(static.sum()), 4),
            "learning": round(float(learned.sum()), 4),
        },
        "catalogue_tracks": len(catalogue),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracks", type=int, default=20, help="playlist length")
    parser.add_argument("--json", action="store_true", help="one line (default: indented)")
    defaults = World()
    for name in World.__dataclass_fields__:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=getattr(defaults, name),
            help=f"simulator: {name} (default {getattr(defaults, name)})",
        )
    parser.add_argument(
        "--songs",
        type=Path,
        default=None,
        help="spotify_songs.csv.gz (default: $SONGS_DIR or ../shared/data/songs)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()  # the importer's row cleaning reads the catalogue's field ranges
    from backend.catalogue.mood_model import songs_dir

    songs = args.songs or songs_dir() / "spotify_songs.csv.gz"
    world = World(**{name: getattr(args, name) for name in World.__dataclass_fields__})
    result = run(
        patients=args.patients,
        sessions=args.sessions,
        seed=args.seed,
        tracks=args.tracks,
        songs=songs,
        world=world,
    )
    result["settings"] = {
        "patients": args.patients,
        "sessions": args.sessions,
        "seed": args.seed,
        "tracks": args.tracks,
        "simulator": {"population_w": POPULATION_W, **world.__dict__},
    }
    result["environment"] = environment()
    json.dump(result, sys.stdout, indent=None if args.json else 2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
