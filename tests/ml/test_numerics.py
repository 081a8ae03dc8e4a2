"""The bf16-or-float32 decision follows the CPU's native instructions, not oneDNN's answer."""

from __future__ import annotations

import pytest
import torch

from ml import numerics

SKYLAKE_SP = "flags\t\t: fpu sse sse2 avx avx2 avx512f avx512dq avx512bw avx512vl\n"
SAPPHIRE_RAPIDS = "flags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile\n"
NEOVERSE_V1 = "Features\t: fp asimd sve bf16 i8mm\n"


def test_a_cpu_without_native_bf16_runs_float32() -> None:
    choice = numerics.choose_cpu_bf16(numerics.cpu_flags(SKYLAKE_SP))
    assert choice.bf16 is False
    assert "emulated" in choice.reason
    assert choice.cpu_flags == ("avx2", "avx512f")


@pytest.mark.parametrize("cpuinfo", [SAPPHIRE_RAPIDS, NEOVERSE_V1])
def test_a_cpu_with_native_bf16_runs_bf16(cpuinfo: str) -> None:
    choice = numerics.choose_cpu_bf16(numerics.cpu_flags(cpuinfo))
    assert choice.bf16 is True
    assert "native bf16" in choice.reason


@pytest.mark.parametrize("override,expected", [("on", True), ("off", False)])
def test_ml_bf16_forces_the_choice(override: str, expected: bool) -> None:
    choice = numerics.choose_cpu_bf16(numerics.cpu_flags(SKYLAKE_SP), override=override)
    assert choice.bf16 is expected and "forced" in choice.reason


def test_a_bad_override_is_an_error() -> None:
    with pytest.raises(ValueError, match="ML_BF16"):
        numerics.choose_cpu_bf16(frozenset(), override="maybe")


def test_unreadable_cpuinfo_means_no_flags() -> None:
    assert numerics.cpu_flags("processor\t: 0\n") == frozenset()


def test_this_machine_decides_by_its_own_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ML_BF16", raising=False)
    native = bool({"avx512_bf16", "amx_bf16", "bf16"} & numerics.cpu_flags())
    expected = native and torch.backends.mkldnn.is_available()
    assert numerics.bf16_fast_on(torch.device("cpu")) is expected
