"""What works for each patient: a Bayesian linear model of how a track moves their mood.

Pure numpy, no Django: the playlist builder, the services and the offline simulator
(`python -m bench.music_learning`) all use this very code.

Observation. One played stretch of a track (see attribution.py) gives the change in the
patient's smoothed (valence, arousal) over it, y in R^2, with a variance from the faces seen
(and the check-ins). The model says y = W^T x + noise, with x the track's audio features
(FEATURES, each scaled to about [-1, 1], plus an intercept) and W a (d, 2) matrix of effects:
column 0 on valence, column 1 on arousal. It is independent of the session's goal, so what is
learnt in calming sessions also informs uplifting ones; a goal only picks the direction the
change is projected on (`goal_direction`).

Prior. Each patient's W starts at the population's posterior mean (every other patient's
stretches pooled, with a weak zero-mean prior) with a per-coefficient spread PRIOR_SD: a new
patient is treated like the average patient and moves away as their own stretches come in.

Noise. Each stretch is weighted by 1 / (TRACK_NOISE_VAR + its measurement variance), so a
stretch seen through a few noisy faces counts less than one with a check-in and many faces.

Posterior (conjugate, both columns share the design): precision L = I / PRIOR_SD^2 + X^T w X,
mean M = L^-1 (M0 / PRIOR_SD^2 + X^T w Y), covariance of each column L^-1. The sufficient
statistics X^T w X and X^T w Y are what is stored per patient; posteriors are rebuilt from them
in microseconds, so the population prior can move without rewriting any patient's record.

Choice. `Posterior.sample(rng)` draws W from the posterior (Thompson sampling: exploration is
as wide as the model's uncertainty and shrinks as evidence comes in); `gains(features, W,
direction)` is the predicted progress of every track toward the goal, which the playlist
builder trades against distance from the iso path, within a hard cap (scoring.MAX_DEPARTURE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

VERSION = "bayes-linear-v1"
GENRES = ("edm", "latin", "pop", "r&b", "rap", "rock")
# The track values feature_matrix reads (Track fields and the catalogue CSV's columns alike).
INPUTS = (
    "valence",
    "energy",
    "tempo",
    "acousticness",
    "danceability",
    "instrumentalness",
    "mode",
    "genre",
)
FEATURES = ("intercept", *INPUTS[:-1], *(f"genre:{g}" for g in GENRES))
D = len(FEATURES)
PRIOR_SD = 0.04  # between-patient spread of each effect (plane units per track)
POPULATION_SD = 0.1  # the weak prior under the pooled population estimate
TRACK_NOISE_VAR = 0.03**2  # how much one track's effect varies beyond measurement noise

# The unit direction of each goal on the (valence, arousal) plane, as the "what works" page
# reads effects (a session projects on the direction from the patient's mood to the goal).
GOAL_POINTS = {"calm": (0.0, -0.6), "uplift": (0.6, 0.2), "energise": (0.5, 0.7)}
GOAL_VERBS = {"calm": "calmed", "uplift": "brightened", "energise": "gained energy"}
# Plain words for a feature's high (+) and low (-) end.
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "valence": ("cheerful", "sombre"),
    "energy": ("energetic", "gentle"),
    "tempo": ("fast", "slow"),
    "acousticness": ("acoustic", "electronic"),
    "danceability": ("danceable", "less rhythmic"),
    "instrumentalness": ("instrumental", "vocal"),
    "mode": ("major-key", "minor-key"),
    **{f"genre:{g}": (g, f"non-{g}") for g in GENRES},
}


def feature_matrix(columns: Mapping[str, Any]) -> np.ndarray:
    """(N, D) scaled features from arrays of Spotify-style values.

    columns: valence, energy, acousticness, danceability, instrumentalness in [0, 1]; tempo
    in BPM (0 = unknown); mode 1/0 (or -1 / None = unknown); genre strings."""
    valence = np.asarray(columns["valence"], dtype=np.float64)
    n = valence.shape[0]
    x = np.zeros((n, D))
    x[:, 0] = 1.0
    x[:, 1] = 2.0 * valence - 1.0
    x[:, 2] = 2.0 * np.asarray(columns["energy"], dtype=np.float64) - 1.0
    tempo = np.asarray(columns["tempo"], dtype=np.float64)
    x[:, 3] = np.where(tempo > 0, np.clip((tempo - 120.0) / 40.0, -1.5, 1.5), 0.0)
    x[:, 4] = 2.0 * np.asarray(columns["acousticness"], dtype=np.float64) - 1.0
    x[:, 5] = 2.0 * np.asarray(columns["danceability"], dtype=np.float64) - 1.0
    x[:, 6] = 2.0 * np.asarray(columns["instrumentalness"], dtype=np.float64) - 1.0
    mode = np.array([-1 if m is None else m for m in columns["mode"]], dtype=np.float64)
    x[:, 7] = np.where(mode == 1, 1.0, np.where(mode == 0, -1.0, 0.0))
    genres = [str(g).strip().lower() for g in columns["genre"]]
    for k, genre in enumerate(GENRES):
        x[:, 8 + k] = [g == genre for g in genres]
    return x


def goal_direction(goal: str, start: tuple[float, float]) -> np.ndarray | None:
    """Unit vector from the mood `start` toward the goal's point; None for `maintain` (or when
    the patient is already there), where there is no direction to make progress in."""
    point = GOAL_POINTS.get(goal)
    if point is None:
        return None
    delta = np.array(point, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    norm = float(np.linalg.norm(delta))
    return delta / norm if norm > 0.05 else None


def reading_direction(goal: str) -> np.ndarray | None:
    """The goal's direction from a neutral mood: how the "what works" summary reads effects."""
    return goal_direction(goal, (0.0, 0.0))


@dataclass
class Evidence:
    """Sufficient statistics of a set of stretches: X^T w X (D, D), X^T w Y (D, 2), count."""

    xtwx: np.ndarray
    xtwy: np.ndarray
    count: int = 0

    @classmethod
    def empty(cls) -> Evidence:
        return cls(np.zeros((D, D)), np.zeros((D, 2)), 0)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Evidence:
        if not data:
            return cls.empty()
        return cls(
            np.asarray(data["xtwx"], dtype=np.float64).reshape(D, D),
            np.asarray(data["xtwy"], dtype=np.float64).reshape(D, 2),
            int(data["count"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {"xtwx": self.xtwx.tolist(), "xtwy": self.xtwy.tolist(), "count": self.count}

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, variance: np.ndarray) -> Evidence:
        """Evidence of stretches: features (n, D), changes (n, 2), measurement variances (n,)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, D)
        w = 1.0 / (TRACK_NOISE_VAR + np.asarray(variance, dtype=np.float64).reshape(-1))
        return cls(
            x.T @ (x * w[:, None]), x.T @ (np.asarray(y).reshape(-1, 2) * w[:, None]), len(x)
        )

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(self.xtwx + other.xtwx, self.xtwy + other.xtwy, self.count + other.count)

    def __sub__(self, other: Evidence) -> Evidence:
        return Evidence(self.xtwx - other.xtwx, self.xtwy - other.xtwy, self.count - other.count)


@dataclass(frozen=True)
class Posterior:
    mean: np.ndarray  # (D, 2)
    cov: np.ndarray  # (D, D), shared by both columns
    count: int  # stretches behind it (the patient's own)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One draw of W (D, 2) from the posterior (Thompson sampling)."""
        chol = np.linalg.cholesky(self.cov + 1e-12 * np.eye(D))
        return self.mean + chol @ rng.standard_normal((D, 2))

    def effect(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per feature: mean and standard deviation of its effect along `direction`."""
        mean = self.mean @ direction
        sd = np.sqrt(np.clip(np.diag(self.cov), 0.0, None)) * float(np.linalg.norm(direction))
        return mean, sd


def population_posterior(pooled: Evidence) -> Posterior:
    """The population's W from everyone's stretches under a weak zero-mean prior."""
    precision = np.eye(D) / POPULATION_SD**2 + pooled.xtwx
    cov = np.linalg.inv(precision)
    return Posterior(cov @ pooled.xtwy, cov, pooled.count)


def patient_posterior(own: Evidence, prior_mean: np.ndarray) -> Posterior:
    """A patient's W: the population mean as prior (spread PRIOR_SD), updated by their stretches."""
    precision = np.eye(D) / PRIOR_SD**2 + own.xtwx
    cov = np.linalg.inv(precision)
    return Posterior(cov @ (prior_mean / PRIOR_SD**2 + own.xtwy), cov, own.count)


def posterior_for(own: Evidence, pooled: Evidence) -> Posterior:
    """The patient's posterior, with a population prior that leaves out their own stretches."""
    return patient_posterior(own, population_posterior(pooled - own).mean)


def gains(features: np.ndarray, w: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Predicted progress of each track (rows of `features`) along `direction` under W."""
    return features @ (w @ direction)


def reason(
    features_row: np.ndarray, posterior: Posterior, direction: np.ndarray, goal: str, sessions: int
) -> str | None:
    """A plain-words reason when the patient's own evidence favours this track, else None:
    "You have calmed with slow, acoustic tracks before (12 tracks over 3 sessions)."."""
    if posterior.count == 0:
        return None
    contributions = features_row * (posterior.mean @ direction)
    words: list[str] = []
    for k in np.argsort(-contributions):
        name = FEATURES[int(k)]
        if name == "intercept" or contributions[k] <= 0.004 or len(words) == 2:
            continue
        high, low = FEATURE_WORDS[name]
        words.append(high if features_row[k] > 0 else low)
    if not words:
        return None
    verb = GOAL_VERBS.get(goal, "responded")
    tracks = f"{posterior.count} track{'s' if posterior.count != 1 else ''}"
    over = f" over {sessions} session{'s' if sessions != 1 else ''}" if sessions else ""
    return f"You have {verb} with {', '.join(words)} tracks before ({tracks}{over})."


def interval(mean: float, sd: float, z: float = 1.645) -> tuple[float, float]:
    """A two-sided 90% interval (default) around a normal estimate."""
    return mean - z * sd, mean + z * sd


def summary(posterior: Posterior, goals: Sequence[str] = tuple(GOAL_POINTS)) -> dict[str, Any]:
    """Per goal, each feature's measured effect toward it with a 90% interval, strongest first
    (by how far the estimate sits from zero in standard deviations)."""
    out: dict[str, Any] = {}
    for goal in goals:
        direction = reading_direction(goal)
        if direction is None:
            continue
        mean, sd = posterior.effect(direction)
        rows: list[tuple[float, dict[str, Any]]] = []
        for k, name in enumerate(FEATURES):
            if name == "intercept":
                continue
            lo, hi = interval(float(mean[k]), float(sd[k]))
            row = {
                "feature": name,
                "effect": round(float(mean[k]), 4),
                "interval90": [round(lo, 4), round(hi, 4)],
                "clear": lo > 0 or hi < 0,
                "words": FEATURE_WORDS[name][0 if mean[k] > 0 else 1],
            }
            rows.append((abs(float(mean[k])) / max(float(sd[k]), 1e-9), row))
        rows.sort(key=lambda scored: -scored[0])
        out[goal] = [row for _, row in rows]
    return out
