"""The iso-principle playlist builder: pure numpy, no Django (scored over the whole catalogue).

The iso principle (Altshuler 1948; Heiderscheit & Madson 2015; Starcke et al. 2021): start with
music that matches the listener's current mood, then change it step by step toward the goal.

Path. Start S = the patient's current (valence, arousal); target T = the goal's point
(GOAL_TARGETS; `maintain` keeps S). The first ceil(20% of n) tracks are *matching* tracks
(waypoint = S). The remaining ones step along the straight line S -> T, one equal step per
track, each step at most MAX_STEP long; if the path is longer than the playlist allows, the
playlist stops short and the next refresh continues from wherever the patient then is.

Step rule. For waypoint w_i every eligible track gets a cost (lower is better):

    |x - w_i|                                 distance on the plane
  + SMOOTH * (|dtempo| / 60 + |denergy| / 0.5) smooth transition from the previous track
  + ARTIST  if its artist is already in the playlist (large: artists repeat only when
            nothing else is admissible)
  + SKIPPED if the patient skipped it before,  + RECENT if played in an earlier session
  - LIKED   if the patient liked it,  - LIKED_ARTIST for a liked artist
  - REGION  if in the last third and its mood region is the goal's region

  - LEARN * gain  the track's predicted progress toward the goal for this patient (a Thompson
            draw from their response model, learning.py), only when learning is on; then only
            tracks within MAX_DEPARTURE of the nearest admissible track to w_i may win, so
            the model reorders tracks near the iso path and never leaves it

and the cheapest is taken. Disliked tracks and tracks already played in this session are never
eligible; no track repeats. Progress is monotone: each track is no farther from T than the
one before (tracks are ranked by distance to T; ranks strictly decrease along the playlist,
and the first pick leaves at least n - 1 eligible tracks closer to T, so the playlist never
runs out of admissible tracks).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import numpy as np

from backend.catalogue.mood_model import MOODS

GOAL_TARGETS: dict[str, tuple[float, float]] = {
    "calm": (0.0, -0.6),  # relaxed: low arousal, neutral-to-pleasant
    "uplift": (0.6, 0.2),  # content/happy
    "energise": (0.5, 0.7),  # excited, energetic
}
GOAL_REGION = {"calm": "calm", "uplift": "happy", "energise": "energetic"}
MATCHING_SHARE = 0.2
MAX_STEP = 0.25
MONOTONE_EPS = 0.05  # below this start-target distance there is no direction to progress in
SMOOTH = 0.2
# More than all other terms can add up to (distance <= 2.9, transition <= 1.4): an artist
# repeats only when no other admissible track is left.
ARTIST = 5.0
SKIPPED = 0.1
RECENT = 0.05
LIKED = 0.15
LIKED_ARTIST = 0.05
REGION = 0.05
# Candidate pruning: only tracks within CANDIDATE_RADIUS of the path (at most MAX_CANDIDATES,
# the closest to it), plus the 3n + 10 nearest to the start and to the target, are scored step
# by step. Farther tracks would win a step only if every nearby one were excluded or by a used
# artist, so pruning rarely changes a pick, and it keeps a 28k-track catalogue well inside the
# latency budget.
CANDIDATE_RADIUS = 0.3
# Learning (see learning.py): one unit of predicted progress along the goal direction is worth
# LEARN units of distance from the path point, and a learned pick may sit at most
# MAX_DEPARTURE farther from the path point than the nearest admissible track.
LEARN = 2.0
MAX_DEPARTURE = 0.15
MAX_CANDIDATES = 3000


@dataclass(frozen=True)
class Catalogue:
    """The active catalogue as aligned arrays (one row per track)."""

    ids: np.ndarray  # (N,) int64 track ids, ascending
    valence: np.ndarray  # (N,) float64, mood coordinates in [-1, 1]
    arousal: np.ndarray
    tempo: np.ndarray  # BPM, 0 = unknown
    energy: np.ndarray
    artist: np.ndarray  # (N,) int64 artist codes (equal code = same artist)
    region: np.ndarray  # (N,) int64 index into MOODS
    features: np.ndarray  # (N, learning.D) scaled audio features for the response model

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row_of(self, track_id: int) -> int | None:
        """Row of a track id (ids are sorted ascending), or None when absent."""
        row = int(np.searchsorted(self.ids, track_id))
        return row if row < len(self) and int(self.ids[row]) == track_id else None


@dataclass(frozen=True)
class History:
    liked: frozenset[int] = frozenset()
    disliked: frozenset[int] = frozenset()
    skipped: frozenset[int] = frozenset()
    recent: frozenset[int] = frozenset()  # played in earlier sessions
    played: frozenset[int] = frozenset()  # played in this session: excluded


@dataclass(frozen=True)
class Pick:
    track_id: int
    position: int
    waypoint: tuple[float, float]
    valence: float
    arousal: float
    cost: float
    reason: str
    gain: float | None = None  # the learned term's predicted progress (None: learning off)


@dataclass
class Plan:
    start: tuple[float, float]
    target: tuple[float, float]
    waypoints: np.ndarray
    picks: list[Pick] = field(default_factory=list)


def target_for(goal: str, start: tuple[float, float]) -> tuple[float, float]:
    return GOAL_TARGETS.get(goal, start)


def waypoints(start: tuple[float, float], target: tuple[float, float], n: int) -> np.ndarray:
    """(n, 2) path points: matching steps at the start, then equal steps toward the target."""
    s, t = np.asarray(start, dtype=np.float64), np.asarray(target, dtype=np.float64)
    distance = float(np.linalg.norm(t - s))
    matching = min(n, max(1, math.ceil(n * MATCHING_SHARE)))
    moving = n - matching
    fractions = np.zeros(n)
    if moving and distance > 0:
        step = min(distance / moving, MAX_STEP) / distance
        fractions[matching:] = np.minimum(1.0, step * np.arange(1, moving + 1))
    return s + fractions[:, None] * (t - s)


def _isin(ids: np.ndarray, values: Collection[int]) -> np.ndarray:
    if not values:
        return np.zeros(ids.shape, dtype=bool)
    return np.isin(ids, np.fromiter(values, dtype=np.int64, count=len(values)))


def build_playlist(
    catalogue: Catalogue,
    *,
    start: tuple[float, float],
    goal: str,
    length: int,
    history: History = History(),
    previous: tuple[float, float] | None = None,  # (tempo, energy) of the track just played
    gain: np.ndarray | None = None,  # (N,) learned predicted progress per catalogue row
) -> Plan:
    """The playlist; with `gain`, the learned term and the departure cap apply."""
    target = target_for(goal, start)
    eligible = ~(_isin(catalogue.ids, history.disliked) | _isin(catalogue.ids, history.played))
    n = int(min(length, int(eligible.sum())))
    plan = Plan(start=start, target=target, waypoints=waypoints(start, target, n))
    if n == 0:
        return plan
    chosen = _candidates(catalogue, eligible, plan.waypoints, n)
    catalogue = Catalogue(
        **{k: getattr(catalogue, k)[chosen] for k in Catalogue.__dataclass_fields__}
    )
    if gain is not None:
        gain = gain[chosen]
    liked = _isin(catalogue.ids, history.liked)
    static = (
        SKIPPED * _isin(catalogue.ids, history.skipped)
        + RECENT * _isin(catalogue.ids, history.recent)
        - LIKED * liked
        - LIKED_ARTIST * np.isin(catalogue.artist, catalogue.artist[liked])
    )
    monotone = math.dist(start, target) > MONOTONE_EPS
    if monotone:
        # Only ranks in [n - 1 - i, previous rank) are admissible at step i; the rest are out.
        to_target = np.hypot(catalogue.valence - target[0], catalogue.arousal - target[1])
        rank = np.empty(len(catalogue), dtype=np.int64)
        rank[np.argsort(to_target, kind="stable")] = np.arange(len(catalogue))
    goal_region = MOODS.index(GOAL_REGION[goal]) if goal in GOAL_REGION else -1
    region_bonus = REGION * (catalogue.region == goal_region)
    tempo_known = catalogue.tempo > 0
    for i, point in enumerate(plan.waypoints):
        distance = np.hypot(catalogue.valence - point[0], catalogue.arousal - point[1])
        cost = distance + static
        if previous is not None:
            dtempo = np.abs(catalogue.tempo - previous[0]) if previous[0] > 0 else 0.0
            smooth = np.where(tempo_known, dtempo, 0.0) / 60.0
            smooth += np.abs(catalogue.energy - previous[1]) / 0.5
            cost += SMOOTH * smooth
        if i >= (2 * n) // 3:
            cost -= region_bonus
        if monotone:
            cost[rank < n - 1 - i] = np.inf  # leave enough closer tracks for the later steps
        if gain is not None:
            admissible = np.isfinite(cost)
            if admissible.any():
                nearest = float(distance[admissible].min())
                cost -= LEARN * gain
                cost[distance > nearest + MAX_DEPARTURE] = np.inf
        j = int(np.argmin(cost))
        if not np.isfinite(cost[j]):
            break  # cannot happen while eligible >= n (see the module docstring)
        pick = _pick(catalogue, j, i, n, point, float(cost[j]), previous, history)
        if gain is not None:
            pick = replace(pick, gain=float(gain[j]))
        plan.picks.append(pick)
        static[j] = np.inf
        static[catalogue.artist == catalogue.artist[j]] += ARTIST  # artist diversity
        if monotone:
            static[rank >= rank[j]] = np.inf  # never farther from the target than this one
        previous = (float(catalogue.tempo[j]), float(catalogue.energy[j]))
    return plan


def _candidates(catalogue: Catalogue, eligible: np.ndarray, path: np.ndarray, n: int) -> np.ndarray:
    """Rows of the eligible tracks worth scoring: near the path, and the 3n + 10 nearest to
    each end."""
    v, a = catalogue.valence, catalogue.arousal
    first, last = path[0], path[-1]
    dv, da = last[0] - first[0], last[1] - first[1]
    span = dv * dv + da * da
    if span > 0:
        t = np.clip(((v - first[0]) * dv + (a - first[1]) * da) / span, 0.0, 1.0)
        to_path = np.hypot(v - (first[0] + t * dv), a - (first[1] + t * da))
    else:
        to_path = np.hypot(v - first[0], a - first[1])
    to_path[~eligible] = np.inf
    keep = to_path <= CANDIDATE_RADIUS
    if int(keep.sum()) > MAX_CANDIDATES:
        keep[:] = False
        keep[np.argpartition(to_path, MAX_CANDIDATES - 1)[:MAX_CANDIDATES]] = True
    k = 3 * n + 10  # spare tracks near the ends, so artist diversity has room too
    for end in (first, last):
        distance = np.hypot(v - end[0], a - end[1])
        distance[~eligible] = np.inf
        keep[np.argpartition(distance, k - 1)[:k] if k < len(distance) else eligible] = True
    keep &= eligible
    return np.flatnonzero(keep)


def _pick(
    catalogue: Catalogue,
    j: int,
    i: int,
    n: int,
    point: np.ndarray,
    cost: float,
    previous: tuple[float, float] | None,
    history: History,
) -> Pick:
    v, a = float(catalogue.valence[j]), float(catalogue.arousal[j])
    matching = i < min(n, max(1, math.ceil(n * MATCHING_SHARE)))
    phase = "matches your current mood (iso principle)" if matching else "a step toward the goal"
    parts = [
        f"Track {i + 1} of {n}: {phase}. It sits at valence {v:+.2f}, arousal {a:+.2f}, "
        f"{math.dist((v, a), point):.2f} from the path point ({point[0]:+.2f}, {point[1]:+.2f})."
    ]
    if previous is not None:
        parts.append(
            f"Tempo {previous[0]:.0f} -> {catalogue.tempo[j]:.0f} BPM, "
            f"energy {previous[1]:.2f} -> {catalogue.energy[j]:.2f}."
        )
    track_id = int(catalogue.ids[j])
    if track_id in history.liked:
        parts.append("You liked this track.")
    if track_id in history.skipped:
        parts.append("You skipped it before (slightly less likely).")
    parts.append(f"Its audio features read as '{MOODS[int(catalogue.region[j])]}'.")
    return Pick(
        track_id=track_id,
        position=i,
        waypoint=(float(point[0]), float(point[1])),
        valence=v,
        arousal=a,
        cost=cost,
        reason=" ".join(parts),
    )
