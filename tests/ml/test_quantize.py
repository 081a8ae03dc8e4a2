"""The int8 classifier (ml.quantize): calibrated ranges fully define it, a stale or missing
ranges file is a loud error, and on real faces it agrees with the float model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ml.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_classifier, read_checkpoint
from ml.data import load_image_folder
from ml.numerics import int8_on
from ml.quantize import calibrate, read_sidecar, sidecar_path, write_sidecar

RNG = np.random.default_rng(3)
FACES = RNG.integers(0, 256, (64, 48, 48), dtype=np.uint8)


def _calibrated(checkpoint):
    clf = load_classifier(checkpoint, bf16=False)
    ranges = calibrate(clf.model, clf.preprocessing, FACES)
    write_sidecar(sidecar_path(checkpoint), version=clf.version, ranges=ranges, calibration="test")
    return clf, ranges


@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated:DeprecationWarning")
def test_the_stored_ranges_rebuild_the_model_calibration_made(tiny_checkpoint):
    from torch.ao.quantization.quantize_fx import convert_fx

    from ml.quantize import _prepared

    clf, _ = _calibrated(tiny_checkpoint)
    int8 = load_classifier(tiny_checkpoint, int8=True)
    assert int8.int8 and not int8.use_bf16 and int8.version == clf.version
    x = clf.preprocessing.normalise(torch.from_numpy(FACES))
    observed = _prepared(clf.model, clf.input_size)
    with torch.inference_mode():
        observed(x)  # the same calibration, converted straight away
        assert torch.equal(convert_fx(observed)(x), int8.model(x))  # the file is enough
    probs = int8.predict_proba(FACES)
    assert probs.shape == (64, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.abs(probs - clf.predict_proba(FACES)).max() < 0.1


def test_a_missing_or_stale_ranges_file_is_an_error_not_a_float_fallback(tiny_checkpoint):
    with pytest.raises(CheckpointError, match="int8 ranges not found"):
        load_classifier(tiny_checkpoint, int8=True)
    _calibrated(tiny_checkpoint)
    path = sidecar_path(tiny_checkpoint)
    body = json.loads(path.read_text())
    body["checkpoint_version"] = "tiny@000000000000"  # calibrated for another file
    path.write_text(json.dumps(body))
    with pytest.raises(CheckpointError, match="was calibrated for tiny@000000000000"):
        load_classifier(tiny_checkpoint, int8=True)
    body["checkpoint_version"] = load_classifier(tiny_checkpoint).version
    body["ranges"].popitem()
    path.write_text(json.dumps(body))
    with pytest.raises(CheckpointError, match="do not fit this model"):
        load_classifier(tiny_checkpoint, int8=True)
    with pytest.raises(CheckpointError, match="CPU only"):
        load_classifier(tiny_checkpoint, "meta", int8=True)


def test_ml_int8_is_off_unless_asked_for_and_rejects_other_values(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv("ML_INT8", raising=False)
    assert not int8_on(cpu)
    monkeypatch.setenv("ML_INT8", "on")
    assert int8_on(cpu) and not int8_on(torch.device("cuda"))
    monkeypatch.setenv("ML_INT8", "yes")
    with pytest.raises(ValueError, match="ML_INT8 must be on or off"):
        int8_on(cpu)


def test_shipped_int8_model_agrees_with_the_float_model_on_real_faces(sample_dir):
    version = load_classifier(DEFAULT_CHECKPOINT, bf16=False).version
    read_sidecar(sidecar_path(DEFAULT_CHECKPOINT), version)  # shipped, and for these weights
    faces = load_image_folder(sample_dir).images
    float_probs = load_classifier(DEFAULT_CHECKPOINT, bf16=False).predict_proba(faces)
    int8_probs = load_classifier(DEFAULT_CHECKPOINT, int8=True).predict_proba(faces)
    agree = (float_probs.argmax(1) == int8_probs.argmax(1)).mean()
    assert len(faces) >= 50 and agree >= 0.95, agree
    assert np.abs(float_probs - int8_probs).max() < 0.15
    assert read_checkpoint(DEFAULT_CHECKPOINT)[1]  # the float weights are unchanged
