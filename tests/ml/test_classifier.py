"""The CNN, the preprocessing config, the label order and the import boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.checkpoint import load_classifier
from ml.classifier import ArchConfig, Preprocessing, build_model, count_parameters
from ml.emotions import EMOTIONS

REPO = Path(__file__).resolve().parents[2]


def test_labels_are_in_fer2013_order():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_default_model_maps_a_batch_of_faces_to_seven_logits():
    model = build_model({}).eval()
    x = Preprocessing().normalise(torch.zeros(3, 48, 48, dtype=torch.uint8))
    assert x.shape == (3, 1, 48, 48) and x.dtype == torch.float32
    assert model(x).shape == (3, 7)
    assert 0.5e6 < count_parameters(model) < 5e6


def test_unknown_architecture_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown architecture keys"):
        ArchConfig.from_dict({"widht": [8]})


def test_predict_proba_returns_calibrated_probabilities(tiny_checkpoint):
    clf = load_classifier(tiny_checkpoint)
    faces = np.random.default_rng(0).integers(0, 256, (300, 48, 48), dtype=np.uint8)
    p = clf.predict_proba(faces)  # 300 > the internal batch of 256
    assert p.shape == (300, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    z = clf.logits(faces)
    expected = torch.softmax(torch.from_numpy(z) / clf.temperature, 1).numpy()
    np.testing.assert_allclose(p, expected, atol=1e-6)


def test_predict_proba_handles_no_faces(tiny_checkpoint):
    p = load_classifier(tiny_checkpoint).predict_proba(np.zeros((0, 48, 48), np.uint8))
    assert p.shape == (0, 7) and p.dtype == np.float32


def test_predict_proba_rejects_wrong_shapes(tiny_checkpoint):
    with pytest.raises(ValueError, match="48, 48"):
        load_classifier(tiny_checkpoint).predict_proba(np.zeros((2, 64, 64), np.uint8))


def test_bf16_and_float32_paths_agree(tiny_checkpoint):
    faces = np.random.default_rng(1).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    p32 = load_classifier(tiny_checkpoint, bf16=False).predict_proba(faces)
    p16 = load_classifier(tiny_checkpoint, bf16=True).predict_proba(faces)
    assert np.abs(p32 - p16).max() < 0.05


def test_importing_ml_does_not_import_django_or_the_backend():
    code = (
        "import sys, ml, ml.classifier, ml.checkpoint, ml.data, ml.metrics, ml.train,"
        " ml.evaluate, ml.benchmark\n"
        "bad = sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'django', 'celery', 'backend', 'workers'})\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
