"""Classification metrics and temperature scaling, on numpy arrays (no model code here).

from ml.metrics import summary, fit_temperature
t = fit_temperature(logits_public, labels_public)
report = summary(softmax(logits / t), labels)
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from ml.emotions import EMOTIONS

HAPPY, SAD = EMOTIONS.index("happy"), EMOTIONS.index("sad")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return torch.softmax(torch.from_numpy(logits).double() / temperature, 1).numpy()


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising NLL (Guo et al. 2017), LBFGS over log T so T stays positive."""
    z = torch.from_numpy(logits).double()
    y = torch.from_numpy(labels).long()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(-np.log(p).mean())


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence, equal-width bins."""
    if len(labels) == 0:
        return 0.0
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(total)


def confusion(pred: np.ndarray, labels: np.ndarray, k: int = len(EMOTIONS)) -> np.ndarray:
    """(k, k) counts, rows = true label, columns = prediction."""
    return np.bincount(labels * k + pred, minlength=k * k).reshape(k, k)


def per_class(cm: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for i, name in enumerate(EMOTIONS):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i].sum() if cm[i].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[name] = {
            "precision": round(float(prec), 4),
            "recall": round(float(rec), 4),
            "f1": round(float(f1), 4),
            "support": int(cm[i].sum()),
        }
    return out


def happy_vs_sad(probs: np.ndarray, labels: np.ndarray) -> tuple[float | None, int]:
    """Accuracy on images labelled happy or sad, choosing whichever of the two is more probable."""
    m = (labels == HAPPY) | (labels == SAD)
    if not m.any():
        return None, 0
    pred = np.where(probs[m, HAPPY] >= probs[m, SAD], HAPPY, SAD)
    return float((pred == labels[m]).mean()), int(m.sum())


def summary(
    probs: np.ndarray, labels: np.ndarray, ferplus: np.ndarray | None = None
) -> dict[str, Any]:
    """The evaluation report: accuracy, per-class P/R/F1, macro F1, happy-vs-sad, FER+, ECE, NLL."""
    pred = probs.argmax(1)
    cm = confusion(pred, labels)
    pc = per_class(cm)
    hvs, n_hvs = happy_vs_sad(probs, labels)
    out: dict[str, Any] = {
        "n": len(labels),
        "accuracy": round(float((pred == labels).mean()), 4) if len(labels) else None,
        "macro_f1": round(float(np.mean([c["f1"] for c in pc.values()])), 4),
        "happy_vs_sad_accuracy": None if hvs is None else round(hvs, 4),
        "happy_vs_sad_n": n_hvs,
        "ece": round(ece(probs, labels), 4),
        "nll": round(nll(probs, labels), 4) if len(labels) else None,
        "per_class": pc,
        "confusion": cm.tolist(),
    }
    if ferplus is not None:
        m = (ferplus >= 0) & (
            ferplus < len(EMOTIONS)
        )  # contempt (7) and "no majority" (-1) excluded
        out["ferplus_accuracy"] = (
            round(float((pred[m] == ferplus[m]).mean()), 4) if m.any() else None
        )
        out["ferplus_n"] = int(m.sum())
    return out
