"""The environment a benchmark records, under the one set of keys every benchmark in the repo
uses (ml's CLIs and the service benchmarks in bench/): commit, CPU model and the flags that
matter for speed, CPU count, torch and its threads (when torch is importable), Python, and how
busy the machine was (1-minute load average). Standard library only; torch imported lazily."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # the repository
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "bf16")


def _cpuinfo() -> tuple[str, list[str]]:
    model: str = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine()):
                model = value.strip()
            if key.strip() in ("flags", "Features") and not flags:
                flags = [f for f in SPEED_FLAGS if f in value.split()]
    except OSError:
        pass
    return model, flags


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:  # no git (an image): the commit is unknown
        commit = ""
    model, flags = _cpuinfo()
    try:
        import torch

        torch_version: str | None = torch.__version__
        threads: int | None = torch.get_num_threads()
    except ImportError:
        torch_version, threads = None, None
    return {
        "commit": commit or None,
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
        "torch": torch_version,
        "torch_threads": threads,
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
