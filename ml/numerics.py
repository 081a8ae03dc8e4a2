"""Which numeric path to run on this machine: bf16 autocast or float32.

bf16 autocast pays off on a CPU only when the CPU executes bf16 natively (x86: the avx512_bf16
or amx_bf16 flags; Arm: the bf16 feature). Elsewhere oneDNN emulates it: on a Skylake-SP Xeon
(AVX-512 without bf16) the classifier ran 197 faces/s with bf16 against 334 in float32, although
`torch.ops.mkldnn._is_mkldnn_bf16_supported()` answered True there. So the flags decide, and
the decision (with the flags behind it) is recorded by the benchmarks.

    python -m ml.numerics      # prints the decision for this machine as JSON
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# CPU feature flags that mean bf16 arithmetic runs in hardware
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# flags worth recording next to every speed figure
RECORDED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "bf16")


@dataclass(frozen=True)
class NumericChoice:
    bf16: bool
    reason: str
    cpu_flags: tuple[str, ...]  # the recorded flags this CPU has


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo ("flags" on x86, "Features" on Arm)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def choose_cpu_bf16(flags: frozenset[str], *, override: str = "auto") -> NumericChoice:
    """bf16 on the CPU only with native bf16 instructions, unless ML_BF16 forces a choice."""
    recorded = tuple(f for f in RECORDED_FLAGS if f in flags)
    if override not in ("auto", "on", "off"):
        raise ValueError(f"ML_BF16 must be auto, on or off, got {override!r}")
    if override != "auto":
        return NumericChoice(override == "on", f"forced by ML_BF16={override}", recorded)
    native = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if native:
        return NumericChoice(True, f"native bf16 on this CPU ({', '.join(native)})", recorded)
    return NumericChoice(
        False, "no native bf16 instructions on this CPU: bf16 would be emulated", recorded
    )


def numeric_choice(device: torch.device) -> NumericChoice:
    """The decision for `device` on this machine (ML_BF16=auto|on|off overrides it)."""
    override = os.environ.get("ML_BF16", "auto")
    if device.type == "cuda":
        if override != "auto":
            return choose_cpu_bf16(frozenset(), override=override)
        ok = torch.cuda.is_bf16_supported()
        return NumericChoice(ok, "CUDA device " + ("with" if ok else "without") + " bf16", ())
    if not torch.backends.mkldnn.is_available():
        return NumericChoice(False, "oneDNN is not available", ())
    return choose_cpu_bf16(cpu_flags(), override=override)


def bf16_fast_on(device: torch.device) -> bool:
    return numeric_choice(device).bf16


def int8_on(device: torch.device) -> bool:
    """The int8 classifier (ml.quantize) on the CPU when ML_INT8=on; off by default."""
    value = os.environ.get("ML_INT8", "off")
    if value not in ("on", "off"):
        raise ValueError(f"ML_INT8 must be on or off, got {value!r}")
    return value == "on" and device.type == "cpu"


if __name__ == "__main__":
    print(json.dumps(asdict(numeric_choice(torch.device("cpu")))))
