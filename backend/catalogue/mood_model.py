"""Where a track sits on the valence-arousal plane, and which mood region it belongs to.

Two small linear models over Spotify audio features, simple enough to explain to a therapist:

* valence: Spotify's own `valence` rescaled to [-1, 1] (v = 2 * valence - 1);
* arousal: a ridge regression from standardised energy, loudness, tempo, acousticness and
  instrumentalness onto the circumplex arousal of the labelled moods (energetic +0.8,
  happy +0.5, sad -0.3, calm -0.7), clipped to [-1, 1];
* mood region: a softmax (multinomial logistic) regression over standardised valence, energy,
  loudness, acousticness and instrumentalness, predicting happy / sad / energetic / calm.

Both are fitted on data_moods.csv.gz (686 labelled tracks). The fitted coefficients are
shipped in mood_model.json next to this file, so the web process needs neither the data nor
a fit at run time. Pure numpy: no Django, no scikit-learn.

    python -m backend.catalogue.mood_model --evaluate --json   # 10-fold held-out figures
    python -m backend.catalogue.mood_model --fit               # rewrite mood_model.json
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MOODS: tuple[str, ...] = ("happy", "sad", "energetic", "calm")
REGION_FEATURES: tuple[str, ...] = (
    "valence",
    "energy",
    "loudness",
    "acousticness",
    "instrumentalness",
)
AROUSAL_FEATURES: tuple[str, ...] = (
    "energy",
    "loudness",
    "tempo",
    "acousticness",
    "instrumentalness",
)
# Circumplex arousal given to each labelled mood (happy matches ml.emotions' "happy").
AROUSAL_TARGET: dict[str, float] = {"happy": 0.5, "sad": -0.3, "energetic": 0.8, "calm": -0.7}
REGION_L2 = 1e-3
AROUSAL_L2 = 100.0  # strong enough that every sign is the intuitive one (loud = aroused)
PARAMS_PATH = Path(__file__).with_name("mood_model.json")
REPO = Path(__file__).resolve().parents[2]


def songs_dir() -> Path:
    return Path(os.environ.get("SONGS_DIR", REPO.parent / "shared" / "data" / "songs"))


def load_labelled(path: Path | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Features (name -> float array) and integer labels (index into MOODS) of data_moods."""
    path = path or songs_dir() / "data_moods.csv.gz"
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = sorted(set(REGION_FEATURES) | set(AROUSAL_FEATURES))
    features = {n: np.array([float(r[n]) for r in rows]) for n in names}
    labels = np.array([MOODS.index(r["mood"].strip().lower()) for r in rows])
    return features, labels


def _matrix(features: Mapping[str, Any], names: Sequence[str]) -> np.ndarray:
    return np.column_stack([np.asarray(features[n], dtype=np.float64) for n in names])


def fit_softmax(x: np.ndarray, y: np.ndarray, *, l2: float, iters: int = 2000) -> np.ndarray:
    """Multinomial logistic regression by gradient descent; returns (d + 1, K) with bias last."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    onehot = np.eye(len(MOODS))[y]
    weights = np.zeros((d + 1, len(MOODS)))
    penalty = np.full((d + 1, 1), l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        logits = xb @ weights
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        weights -= 0.5 * (xb.T @ (p - onehot) / n + penalty * weights)
    return weights


def fit_ridge(x: np.ndarray, t: np.ndarray, *, l2: float) -> np.ndarray:
    """Closed-form ridge regression; returns (d + 1,) with the intercept last."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    penalty = l2 * np.eye(d + 1)
    penalty[-1, -1] = 0.0
    return np.linalg.solve(xb.T @ xb + penalty, xb.T @ t)


@dataclass(frozen=True)
class MoodModel:
    """Fitted standardisation and coefficients for both models."""

    region_mean: np.ndarray
    region_scale: np.ndarray
    region_weights: np.ndarray  # (len(REGION_FEATURES) + 1, len(MOODS))
    arousal_mean: np.ndarray
    arousal_scale: np.ndarray
    arousal_weights: np.ndarray  # (len(AROUSAL_FEATURES) + 1,)

    @classmethod
    def fit(cls, features: Mapping[str, np.ndarray], labels: np.ndarray) -> MoodModel:
        xr = _matrix(features, REGION_FEATURES)
        xa = _matrix(features, AROUSAL_FEATURES)
        rm, rs = xr.mean(axis=0), xr.std(axis=0) + 1e-9
        am, as_ = xa.mean(axis=0), xa.std(axis=0) + 1e-9
        targets = np.array([AROUSAL_TARGET[MOODS[i]] for i in labels])
        return cls(
            region_mean=rm,
            region_scale=rs,
            region_weights=fit_softmax((xr - rm) / rs, labels, l2=REGION_L2),
            arousal_mean=am,
            arousal_scale=as_,
            arousal_weights=fit_ridge((xa - am) / as_, targets, l2=AROUSAL_L2),
        )

    def region_probabilities(self, features: Mapping[str, Any]) -> np.ndarray:
        x = (_matrix(features, REGION_FEATURES) - self.region_mean) / self.region_scale
        logits = x @ self.region_weights[:-1] + self.region_weights[-1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def regions(self, features: Mapping[str, Any]) -> list[str]:
        return [MOODS[i] for i in self.region_probabilities(features).argmax(axis=1)]

    def arousal(self, features: Mapping[str, Any]) -> np.ndarray:
        x = (_matrix(features, AROUSAL_FEATURES) - self.arousal_mean) / self.arousal_scale
        return np.clip(x @ self.arousal_weights[:-1] + self.arousal_weights[-1], -1.0, 1.0)

    @staticmethod
    def valence(features: Mapping[str, Any]) -> np.ndarray:
        return np.clip(2.0 * np.asarray(features["valence"], dtype=np.float64) - 1.0, -1.0, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "moods": list(MOODS),
            "region_features": list(REGION_FEATURES),
            "arousal_features": list(AROUSAL_FEATURES),
            "arousal_target": AROUSAL_TARGET,
            **{k: getattr(self, k).round(8).tolist() for k in self.__dataclass_fields__},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MoodModel:
        if tuple(data["region_features"]) != REGION_FEATURES or tuple(data["moods"]) != MOODS:
            raise ValueError("mood_model.json was fitted for other features; refit with --fit")
        return cls(**{k: np.array(data[k], dtype=np.float64) for k in cls.__dataclass_fields__})


@lru_cache(maxsize=1)
def shipped_model() -> MoodModel:
    """The coefficients committed in mood_model.json (loaded once per process)."""
    return MoodModel.from_json(json.loads(PARAMS_PATH.read_text()))


def place(features: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(valence, arousal, region) for a batch of tracks given as name -> feature array."""
    model = shipped_model()
    return model.valence(features), model.arousal(features), model.regions(features)


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per sample; each class is dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=int)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % k
    return folds


def evaluate(path: Path | None = None, *, k: int = 10, seed: int = 0) -> dict[str, Any]:
    """Stratified k-fold held-out accuracy of the region model and the arousal axis."""
    features, labels = load_labelled(path)
    folds = stratified_folds(labels, k, seed)
    accuracies, arousal_acc = [], []
    confusion = np.zeros((len(MOODS), len(MOODS)), dtype=int)
    high = np.isin(labels, [MOODS.index("happy"), MOODS.index("energetic")])
    for fold in range(k):
        train, test = folds != fold, folds == fold
        model = MoodModel.fit({n: v[train] for n, v in features.items()}, labels[train])
        held_out = {n: v[test] for n, v in features.items()}
        predicted = model.region_probabilities(held_out).argmax(axis=1)
        accuracies.append(float((predicted == labels[test]).mean()))
        np.add.at(confusion, (labels[test], predicted), 1)
        arousal_acc.append(float(((model.arousal(held_out) > 0) == high[test]).mean()))
    return {
        "data": "data_moods.csv.gz",
        "n": len(labels),
        "folds": k,
        "seed": seed,
        "region_features": list(REGION_FEATURES),
        "accuracy_mean": round(float(np.mean(accuracies)), 4),
        "accuracy_sd": round(float(np.std(accuracies)), 4),
        "fold_accuracies": [round(a, 4) for a in accuracies],
        "labels": list(MOODS),
        "confusion_matrix_rows_true_cols_predicted": confusion.tolist(),
        "arousal_sign_accuracy_mean": round(float(np.mean(arousal_acc)), 4),
        "arousal_sign_accuracy_sd": round(float(np.std(arousal_acc)), 4),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--evaluate", action="store_true", help="k-fold held-out evaluation")
    parser.add_argument("--fit", action="store_true", help="fit on all data, write the JSON")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="data_moods.csv[.gz]")
    args = parser.parse_args(argv)
    if args.fit:
        model = MoodModel.fit(*load_labelled(args.data))
        PARAMS_PATH.write_text(json.dumps(model.to_json(), indent=1) + "\n")
        print(f"wrote {PARAMS_PATH}")
    if args.evaluate or not args.fit:
        result = evaluate(args.data, k=args.folds, seed=args.seed)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"accuracy {result['accuracy_mean']:.3f} +- {result['accuracy_sd']:.3f}")
            print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
