"""Checkpoints round-trip exactly, describe themselves, and fail with one clear error."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ml.checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    load_classifier,
    read_checkpoint,
    save_checkpoint,
)
from ml.classifier import ArchConfig, Preprocessing, build_model
from ml.emotions import EMOTIONS

from .conftest import TINY_ARCH

FACES = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)


def test_round_trip_gives_the_same_outputs(tiny_model, tiny_checkpoint):
    clf = load_classifier(tiny_checkpoint, bf16=False)
    x = Preprocessing(mean=0.5, std=0.25).normalise(torch.from_numpy(FACES))
    with torch.no_grad():
        expected = tiny_model(x).numpy()
    np.testing.assert_allclose(clf.logits(FACES), expected, rtol=1e-5, atol=1e-5)
    assert clf.labels == EMOTIONS and clf.input_size == 48 and clf.temperature == 1.5


def test_checkpoint_describes_itself(tiny_checkpoint):
    ckpt, digest = read_checkpoint(tiny_checkpoint)
    assert ckpt["arch"]["widths"] == [4, 8]
    assert ckpt["preprocessing"] == {"input_size": 48, "mean": 0.5, "std": 0.25, "grayscale": True}
    assert ckpt["labels"] == list(EMOTIONS) and "git_commit" in ckpt
    assert re.fullmatch(r"tiny@[0-9a-f]{12}", load_classifier(tiny_checkpoint).version)
    assert load_classifier(tiny_checkpoint).version == f"tiny@{digest[:12]}"


def test_half_precision_storage_stays_close(tmp_path, tiny_model):
    pre = Preprocessing(mean=0.5, std=0.25)
    full = save_checkpoint(
        tmp_path / "a.pt", tiny_model, name="a", arch=TINY_ARCH, preprocessing=pre
    )
    half = save_checkpoint(
        tmp_path / "b.pt", tiny_model, name="b", arch=TINY_ARCH, preprocessing=pre, half=True
    )
    a = load_classifier(full, bf16=False).predict_proba(FACES)
    b = load_classifier(half, bf16=False).predict_proba(FACES)
    assert np.abs(a - b).max() < 1e-2


def test_missing_file_raises(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_classifier(tmp_path / "nope.pt")


def test_truncated_file_raises(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_classifier(bad)


def test_garbage_file_raises(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_classifier(bad)


def test_pickled_objects_are_refused(tmp_path, tiny_model):
    bad = tmp_path / "pickled.pt"
    torch.save(tiny_model, bad)  # a whole nn.Module needs full unpickling: refused
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_classifier(bad)


def test_other_torch_files_are_refused(tmp_path, tiny_model):
    bad = tmp_path / "state_dict.pt"
    torch.save(tiny_model.state_dict(), bad)
    with pytest.raises(CheckpointError, match="not an emotion-classifier checkpoint"):
        load_classifier(bad)


def test_mismatched_architecture_raises(tmp_path, tiny_model):
    other = ArchConfig(widths=(4, 16), depths=(1, 1), fc_hidden=8)
    bad = save_checkpoint(
        tmp_path / "x.pt", tiny_model, name="x", arch=other, preprocessing=Preprocessing()
    )
    with pytest.raises(CheckpointError, match="does not match its architecture"):
        load_classifier(bad)


def test_wrong_labels_raise(tmp_path, tiny_checkpoint):
    ckpt, _ = read_checkpoint(tiny_checkpoint)
    ckpt["labels"] = list(reversed(EMOTIONS))
    torch.save(ckpt, tmp_path / "labels.pt")
    with pytest.raises(CheckpointError, match="labels"):
        load_classifier(tmp_path / "labels.pt")


def test_shipped_checkpoint_loads():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint yet")
    clf = load_classifier(DEFAULT_CHECKPOINT)
    assert clf.labels == EMOTIONS and clf.input_size == 48 and clf.temperature > 0
    assert clf.predict_proba(FACES).shape == (16, 7)
    assert isinstance(build_model(read_checkpoint(DEFAULT_CHECKPOINT)[0]["arch"]), torch.nn.Module)
