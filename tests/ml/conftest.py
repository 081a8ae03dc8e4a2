"""Shared fixtures for the ml tests: a tiny random checkpoint and the FER-2013 paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml.checkpoint import save_checkpoint
from ml.classifier import ArchConfig, Preprocessing, build_model
from ml.data import default_npz_path, default_sample_dir

# One thread: the CI/dev machines have 2 shared cores, and 2 OpenMP threads competing with
# another busy process are many times slower than one (see ml/MODEL.md).
torch.set_num_threads(1)

TINY_ARCH = ArchConfig(widths=(4, 8), depths=(1, 1), fc_hidden=8, dropout=0.0)


@pytest.fixture
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(TINY_ARCH).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model: torch.nn.Module) -> Path:
    return save_checkpoint(
        tmp_path / "tiny.pt",
        tiny_model,
        name="tiny",
        arch=TINY_ARCH,
        preprocessing=Preprocessing(mean=0.5, std=0.25),
        temperature=1.5,
    )


@pytest.fixture
def npz_path() -> Path:
    path = default_npz_path()
    if not path.is_file():
        pytest.skip(f"FER-2013 npz not available at {path}")
    return path


@pytest.fixture
def sample_dir() -> Path:
    path = default_sample_dir()
    if not path.is_dir():
        pytest.skip(f"sample images not available at {path}")
    return path
