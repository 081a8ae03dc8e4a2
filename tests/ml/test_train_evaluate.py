"""Training makes loss go down, the CLIs run end to end, and the metrics are right."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ml.benchmark import DEFAULT_OFF, SECTIONS, classifier_section, training_section
from ml.checkpoint import load_classifier
from ml.classifier import build_model
from ml.data import load_npz
from ml.evaluate import evaluate
from ml.metrics import ece, fit_temperature, happy_vs_sad, softmax
from ml.train import (
    finalize,
    load_config,
    lr_at,
    make_optimizer,
    preprocessing_for,
    train,
    training_loss,
)

from .conftest import TINY_ARCH

REPO = Path(__file__).resolve().parents[2]


def test_a_few_training_steps_reduce_the_loss(npz_path):
    tr = load_npz(npz_path)["train"]
    faces, labels = tr.images[:256], torch.from_numpy(tr.labels[:256])
    torch.manual_seed(0)
    model = build_model(TINY_ARCH)
    opt = make_optimizer(model, {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4})
    x = preprocessing_for(faces).normalise(torch.from_numpy(faces))
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_learning_rate_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 10, 0.1) for s in range(100)]
    assert lrs[0] < lrs[9] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:])) and lrs[-1] < 1e-3


@pytest.mark.slow
def test_tiny_training_run_resumes_and_ships_a_calibrated_checkpoint(npz_path, tmp_path):
    cfg = load_config(REPO / "ml/configs/tiny.json")
    train(cfg, tmp_path, epochs=1, data=str(npz_path))
    summary = train(cfg, tmp_path, resume=True, data=str(npz_path))  # continues with epoch 2
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert summary["epochs_run"] == 2 and summary["temperature"] > 0
    clf = load_classifier(tmp_path / "final.pt")
    assert clf.temperature == pytest.approx(summary["temperature"], rel=1e-4)
    assert (tmp_path / "curves.png").stat().st_size > 0
    again = finalize(cfg, tmp_path, data=str(npz_path))
    assert again["public_accuracy"] == summary["public_accuracy"]  # the same best epoch
    assert again["temperature"] == pytest.approx(summary["temperature"], rel=1e-4)


def test_evaluation_on_the_sample_jpgs_returns_sane_json(tiny_checkpoint, sample_dir, tmp_path):
    png = tmp_path / "cm.png"
    out = subprocess.run(
        [sys.executable, "-m", "ml.evaluate", "--checkpoint", str(tiny_checkpoint),
         "--images", str(sample_dir), "--json", "--confusion", str(png)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["n"] == 70 and 0 <= report["accuracy"] <= 1
    assert set(report["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise",
                                        "neutral"}  # fmt: skip
    assert report["happy_vs_sad_n"] == 20 and 0 <= report["ece"] <= 1
    assert report["checkpoint_version"].startswith("tiny@") and png.stat().st_size > 0


def test_tta_evaluation_reports_ferplus(tiny_checkpoint, npz_path):
    private = load_npz(npz_path)["private"].subset(np.arange(200))
    report = evaluate(load_classifier(tiny_checkpoint), private, tta=True)
    assert report["tta"] and report["n"] == 200 and report["ferplus_n"] > 150
    assert 0 <= report["ferplus_accuracy"] <= 1


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 7)) * 3
    labels = np.array([rng.choice(7, p=p) for p in softmax(logits, 2.0)])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_ece_and_happy_vs_sad():
    probs = np.array([[0.0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0.4, 0.5, 0, 0.1]])
    labels = np.array([3, 3])
    assert ece(probs, labels) == pytest.approx(0.5 * 0.5)
    assert happy_vs_sad(probs, labels) == (0.5, 2)


def test_benchmark_section_reports_latency_and_throughput(tiny_checkpoint):
    assert ("classifier", classifier_section) in SECTIONS
    result = classifier_section(Namespace(checkpoint=tiny_checkpoint, repeats=1))
    assert result["batch_1_ms"] > 0 and result["batch_256_images_per_s"] > 0


def test_the_training_section_times_a_step_of_each_config_and_projects_the_schedule():
    assert ("training", training_section) in SECTIONS and "training" in DEFAULT_OFF
    tiny = str(REPO / "ml/configs/tiny.json")
    result = training_section(Namespace(train_config=[tiny], train_steps=2))["tiny"]
    assert result["parameters"] == sum(
        p.numel() for p in build_model(load_config(tiny)["arch"]).parameters()
    )
    assert result["batch"] == 64 and result["config_epochs"] == 2
    assert result["images_per_s"] == pytest.approx(64 / (result["step_ms"] / 1000), rel=0.02)
    epoch_hours = 28_709 / result["images_per_s"] / 3600
    assert result["hours_for_config_epochs"] == pytest.approx(2 * epoch_hours, abs=0.051)


@pytest.mark.slow
def test_finish_by_shortens_the_schedule_so_it_still_anneals(npz_path, tmp_path):
    from datetime import UTC, datetime

    cfg = load_config(REPO / "ml/configs/tiny.json")
    train(cfg, tmp_path, epochs=5, data=str(npz_path), finish_by=datetime.now(UTC))
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history) == 2 and history[-1]["lr"] < 0.01


def test_the_loss_blends_hard_labels_with_teacher_and_ferplus_votes():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 7), torch.tensor([0, 1, 2, 3, 4, 5])
    cfg = {"label_smoothing": 0.0, "distill": {"weight": 0.5, "temperature": 2.0}}
    hard = F.cross_entropy(logits, y)
    assert training_loss(logits, y, {**cfg, "ferplus_weight": 0.0}) == pytest.approx(hard.item())
    # a teacher that agrees with the student adds nothing and keeps (1 - w) of the hard loss
    same = training_loss(logits, y, {**cfg, "ferplus_weight": 0.0}, teacher=logits.clone())
    assert same.item() == pytest.approx(0.5 * hard.item(), rel=1e-5)
    other = training_loss(logits, y, {**cfg, "ferplus_weight": 0.0}, teacher=torch.randn(6, 7))
    assert other.item() > same.item()
    # FER+ votes that agree one-hot with the labels reproduce the hard loss; images without
    # votes keep the hard label only
    onehot = F.one_hot(y, 7).float() * 10
    onehot[0] = 0
    blended = training_loss(logits, y, {**cfg, "ferplus_weight": 0.3}, votes=onehot)
    assert blended.item() == pytest.approx(hard.item(), rel=1e-5)
    flipped = onehot.roll(1, dims=1)
    assert training_loss(logits, y, {**cfg, "ferplus_weight": 0.3}, votes=flipped) != hard


def test_ferplus_votes_load_in_emotion_order(npz_path):
    splits = load_npz(npz_path)
    tr = splits["train"]
    assert tr.votes is not None and tr.votes.shape == (len(tr), 7)
    has = tr.ferplus[:7000] >= 0
    has &= tr.ferplus[:7000] < 7
    # where FER+ has a single winner among our emotions, it is the vote maximum
    winners = tr.votes[:7000][has].argmax(1)
    assert (winners == tr.ferplus[:7000][has]).mean() > 0.99
    private = splits["private"]
    assert private.votes is not None and private.subset(np.arange(2)).votes.shape == (2, 7)


@pytest.mark.slow
def test_tiny_run_distils_from_a_cached_teacher_with_ferplus_votes(
    npz_path, tmp_path, tiny_checkpoint
):
    cfg = load_config(REPO / "ml/configs/tiny.json")
    cfg["arch"] = {"widths": [4, 8], "depths": [1, 1], "fc_hidden": 8, "dropout": 0.0}
    cfg["init_from"] = str(tiny_checkpoint)
    cfg["distill"] = {
        "teacher": str(tiny_checkpoint), "weight": 0.5, "temperature": 2.0, "tta": True
    }  # fmt: skip
    cfg["ferplus_weight"] = 0.2
    summary = train(cfg, tmp_path, epochs=1, data=str(npz_path))
    cached = list(tmp_path.glob("teacher_tiny-*_tta_512.npy"))
    assert len(cached) == 1 and np.load(cached[0]).shape == (512, 7)
    assert summary["epochs_run"] == 1
