"""The offline evaluation runs the real recommender and is reproducible from its seed."""

from __future__ import annotations

import math

import pytest

from backend.catalogue.mood_model import songs_dir
from bench import music_learning

SONGS = songs_dir() / "spotify_songs.csv.gz"


@pytest.mark.django_db
def test_the_simulator_reports_regret_curves_and_repeats_itself_from_the_seed() -> None:
    runs = [
        music_learning.run(patients=4, sessions=3, seed=7, tracks=6, songs=SONGS) for _ in range(2)
    ]
    for run in runs:
        del run["seconds"]
    first = runs[0]
    assert first == runs[1]
    curves = first["per_session"]
    assert all(len(curve) == 3 for curve in curves.values())
    assert all(math.isfinite(v) for v in curves["mean_regret_static"])
    assert (
        0 <= min(curves["goal_attainment_learning"]) <= max(curves["goal_attainment_oracle"]) <= 1
    )
    # the learning policy measured its tracks from simulated faces, as the product would
    assert 0 < max(curves["measured_tracks_per_patient"]) <= 6
    assert first["catalogue_tracks"] > 28_000
