"""Timing helper shared by the benchmarks (ml.benchmark, ml.bench_detector)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


def timed(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int) -> list[float]:
    """Wall-clock seconds of each of `repeats` calls after `warmup` untimed calls; CUDA is
    synchronised around each call so queued kernels are counted."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - start)
    return out
