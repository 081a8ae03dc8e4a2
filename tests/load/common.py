"""Shared bits of the benchmark commands: test images, percentiles, the environment record."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SAMPLES = ("happy_0", "angry_0", "neutral_0", "surprise_0", "sad_1", "fear_0", "disgust_0")


def face_frames() -> list[bytes]:
    """640x480 one-face JPEGs (FER-2013 samples upscaled onto a plain background)."""
    from tests.workers.support import face_jpeg

    return [face_jpeg(f"{name}.jpg") for name in SAMPLES]


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50": pick(0.5),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": pick(1.0),
        "n": len(values),
    }


def environment() -> dict[str, object]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = None
    try:
        import torch

        torch_version = torch.__version__
        device = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        torch_version, device = None, "cpu"
    return {
        "commit": commit,
        "device": os.environ.get("ML_DEVICE", "auto") + f" ({device} available)",
        "torch": torch_version,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "root": str(Path(ROOT).name),
    }
