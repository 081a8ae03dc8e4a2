"""Properties of the iso-principle playlist builder (pure numpy, no database).

Catalogues are random but dense enough to hold a playlist (>= 3x its length), and the
properties must hold for every one hypothesis tries.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.recommendations import learning, scoring
from backend.recommendations.scoring import Catalogue, History, build_playlist, waypoints

GOALS = ("calm", "uplift", "energise", "maintain")
unit = st.floats(-1.0, 1.0, allow_nan=False)


def random_catalogue(seed: int, size: int, artists: int) -> Catalogue:
    rng = np.random.default_rng(seed)
    return Catalogue(
        ids=np.arange(1, size + 1, dtype=np.int64) * 7,
        valence=rng.uniform(-1, 1, size),
        arousal=rng.uniform(-1, 1, size),
        tempo=np.where(rng.random(size) < 0.05, 0.0, rng.uniform(60, 180, size)),
        energy=rng.uniform(0, 1, size),
        artist=rng.integers(0, artists, size),
        region=rng.integers(0, 4, size),
        features=rng.uniform(-1, 1, (size, learning.D)),
    )


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    length = draw(st.integers(1, 25))
    size = draw(st.integers(3 * length, 400))
    catalogue = random_catalogue(draw(st.integers(0, 2**32 - 1)), size, draw(st.integers(1, 60)))
    ids = catalogue.ids.tolist()
    disliked = frozenset(draw(st.lists(st.sampled_from(ids), max_size=size // 4)))
    liked = frozenset(draw(st.lists(st.sampled_from(ids), max_size=size // 4))) - disliked
    played = frozenset(draw(st.lists(st.sampled_from(ids), max_size=length)))
    history = History(liked=liked, disliked=disliked, played=played)
    return catalogue, (draw(unit), draw(unit)), draw(st.sampled_from(GOALS)), length, history


def _positions(catalogue: Catalogue, plan: scoring.Plan) -> list[tuple[float, float]]:
    row = {int(t): i for i, t in enumerate(catalogue.ids)}
    return [
        (catalogue.valence[row[p.track_id]], catalogue.arousal[row[p.track_id]]) for p in plan.picks
    ]


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_playlist_has_the_requested_length_without_repeats_or_excluded_tracks(scenario):  # type: ignore[no-untyped-def]
    catalogue, start, goal, length, history = scenario
    plan = build_playlist(catalogue, start=start, goal=goal, length=length, history=history)
    ids = [p.track_id for p in plan.picks]
    eligible = set(catalogue.ids.tolist()) - history.disliked - history.played
    assert len(ids) == min(length, len(eligible))
    assert len(set(ids)) == len(ids)
    assert not set(ids) & history.disliked
    assert not set(ids) & history.played
    assert [p.position for p in plan.picks] == list(range(len(ids)))


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_first_track_sits_near_the_current_mood(scenario):  # type: ignore[no-untyped-def]
    catalogue, start, goal, length, history = scenario
    plan = build_playlist(catalogue, start=start, goal=goal, length=length, history=history)
    first = _positions(catalogue, plan)[0]
    eligible = ~np.isin(catalogue.ids, list(history.disliked | history.played))
    to_start = np.sort(np.hypot(catalogue.valence - start[0], catalogue.arousal - start[1]))
    nth_nearest = np.sort(
        np.hypot(catalogue.valence[eligible] - start[0], catalogue.arousal[eligible] - start[1])
    )[len(plan.picks) - 1]
    # Within the n-th nearest eligible track, plus the largest bonus a track can earn at step 0:
    # liked, liked artist, and the goal-region bonus when step 0 is already in the last third
    # (a one-track playlist).
    n = len(plan.picks)
    region = scoring.REGION if (2 * n) // 3 == 0 else 0.0
    radius = nth_nearest + scoring.LIKED + scoring.LIKED_ARTIST + region + 1e-9
    assert math.dist(first, start) <= radius, (first, start, to_start[:3])


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_every_track_is_no_farther_from_the_target_than_the_one_before(scenario):  # type: ignore[no-untyped-def]
    catalogue, start, goal, length, history = scenario
    plan = build_playlist(catalogue, start=start, goal=goal, length=length, history=history)
    if math.dist(plan.start, plan.target) <= scoring.MONOTONE_EPS:
        return  # maintain: there is no direction to progress in
    distances = [math.dist(xy, plan.target) for xy in _positions(catalogue, plan)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(distances))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(GOALS[:3]))
def test_artists_almost_never_repeat_when_the_catalogue_has_enough_artists(seed, goal):  # type: ignore[no-untyped-def]
    # Monotone progress is the hard rule: near the end, the only tracks closer to the goal
    # may all be by artists already used, and then (rarely) one artist plays twice.
    catalogue = random_catalogue(seed, 3000, 2000)
    plan = build_playlist(catalogue, start=(-0.6, 0.5), goal=goal, length=20)
    row = {int(t): i for i, t in enumerate(catalogue.ids)}
    artists = [int(catalogue.artist[row[p.track_id]]) for p in plan.picks]
    assert len(artists) - len(set(artists)) <= 1


def test_an_artist_repeats_only_when_nothing_else_is_admissible() -> None:
    # Two artists; the track nearest the path is by the artist just played.
    catalogue = Catalogue(
        ids=np.array([1, 2, 3], dtype=np.int64),
        valence=np.array([0.0, 0.02, 0.5]),
        arousal=np.array([0.0, 0.0, 0.5]),
        tempo=np.array([100.0, 100.0, 100.0]),
        energy=np.array([0.5, 0.5, 0.5]),
        artist=np.array([1, 1, 2]),
        region=np.array([0, 0, 0]),
        features=np.zeros((3, learning.D)),
    )
    plan = build_playlist(catalogue, start=(0.0, 0.0), goal="maintain", length=2)
    assert [p.track_id for p in plan.picks] == [1, 3]  # farther, but a different artist


def test_waypoints_match_first_then_step_evenly_toward_the_target() -> None:
    path = waypoints((-0.5, 0.5), (0.0, -0.5), 10)
    assert np.allclose(path[:2], [(-0.5, 0.5), (-0.5, 0.5)])  # 20% matching tracks
    steps = np.linalg.norm(np.diff(path[1:], axis=0), axis=1)
    assert np.allclose(steps, steps[0]) and steps[0] <= scoring.MAX_STEP
    assert np.allclose(path[-1], (0.0, -0.5))


def test_a_long_path_stops_short_rather_than_jumping() -> None:
    path = waypoints((-1.0, 1.0), (1.0, -1.0), 5)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.max() <= scoring.MAX_STEP + 1e-12


def test_liked_tracks_are_favoured_over_equally_placed_ones() -> None:
    catalogue = Catalogue(
        ids=np.array([1, 2, 3], dtype=np.int64),
        valence=np.array([0.1, 0.1, 0.9]),
        arousal=np.array([0.1, 0.1, 0.9]),
        tempo=np.array([100.0, 100.0, 100.0]),
        energy=np.array([0.5, 0.5, 0.5]),
        artist=np.array([1, 2, 3]),
        region=np.array([0, 0, 0]),
        features=np.zeros((3, learning.D)),
    )
    history = History(liked=frozenset({2}))
    plan = build_playlist(catalogue, start=(0.1, 0.1), goal="maintain", length=1, history=history)
    assert plan.picks[0].track_id == 2
    assert "You liked this track." in plan.picks[0].reason


def test_every_pick_explains_its_place_on_the_plane() -> None:
    plan = build_playlist(random_catalogue(1, 500, 100), start=(-0.5, 0.3), goal="calm", length=8)
    assert plan.picks[0].reason.startswith("Track 1 of 8: matches your current mood")
    assert "a step toward the goal" in plan.picks[-1].reason
    assert all("valence" in p.reason and "arousal" in p.reason for p in plan.picks)
