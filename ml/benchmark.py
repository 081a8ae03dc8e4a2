"""CPU/GPU speed of the ml components, as the product runs them. Prints ONE JSON line.

    python -m ml.benchmark --json
    python -m ml.benchmark --json --only classifier --threads 2
    python -m ml.benchmark --json --only training   # training speed of the shipped and a wider net

Output: {"device", "cuda_device", "numerics", the ml.runinfo keys ("commit", "cpu_model",
"cpu_flags", "torch", "torch_threads", "load_average_1m", ...), "<section>": {...}, ...}.
Each section is a function `(args) -> dict` listed in SECTIONS; to benchmark another component
(e.g. "detector", "pipeline") write `def detector_section(args) -> dict` and append
("detector", detector_section) to SECTIONS. Timings warm up first, synchronise CUDA, and report
medians. This is a measurement tool: no test asserts on its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.bench_detector import detector_section, pipeline_section
from ml.checkpoint import DEFAULT_CHECKPOINT, load_classifier
from ml.numerics import numeric_choice
from ml.runinfo import ROOT, environment
from ml.timing import timed

CONFIGS = Path(__file__).resolve().parent / "configs"


def classifier_on(
    device: torch.device, args: argparse.Namespace, *, int8: bool | None = None
) -> dict[str, Any]:
    clf = load_classifier(args.checkpoint, device, int8=int8)
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, clf.input_size, clf.input_size), dtype=np.uint8)
    batch = rng.integers(0, 256, (256, clf.input_size, clf.input_size), dtype=np.uint8)
    t1 = timed(lambda: clf.predict_proba(one), device, args.repeats * 5, warmup=20)
    t256 = timed(lambda: clf.predict_proba(batch), device, args.repeats, warmup=3)
    return {
        "checkpoint_version": clf.version,
        "bf16": clf.use_bf16,
        "int8": clf.int8,
        "batch_1_ms": round(statistics.median(t1) * 1000, 3),
        "batch_1_p90_ms": round(sorted(t1)[int(0.9 * len(t1))] * 1000, 3),
        "batch_256_images_per_s": round(256 / statistics.median(t256), 1),
    }


def classifier_section(args: argparse.Namespace) -> dict[str, Any]:
    """load_classifier(...).predict_proba on random 48x48 faces: batch 1 latency, batch 256 rate."""
    result = classifier_on(torch.device("cpu"), args)
    if torch.cuda.is_available():
        result["cuda"] = classifier_on(torch.device("cuda"), args)
    return result


TRAIN_IMAGES = 28_709  # FER-2013's Training split: one epoch


def training_on(config: Path, device: torch.device, steps: int) -> dict[str, Any]:
    """One training step as ml.train takes it (augmentation in torch, channels_last, the
    config's numerics, SGD with Nesterov momentum; not the weight average's update nor the
    evaluation after each epoch, so a floor), on random faces: the time an epoch and a long
    schedule would take on this machine, before committing hours to one."""
    from ml.classifier import build_model, count_parameters
    from ml.data import augment
    from ml.train import augment_config, load_config, make_optimizer, training_loss, uses_bf16

    cfg = load_config(config)
    model = build_model(cfg["arch"]).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.train()
    opt = make_optimizer(model, cfg)
    aug = augment_config(cfg)
    bf16 = uses_bf16(cfg, device)
    size, batch = model.cfg.input_size, cfg["batch_size"]
    gen = torch.Generator().manual_seed(0)
    faces = torch.randn(batch, 1, size, size, generator=gen)
    labels = torch.randint(0, model.cfg.num_classes, (batch,), generator=gen)

    def step() -> None:
        x = augment(faces, aug).to(device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = training_loss(logits.float(), labels.to(device), cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    seconds = statistics.median(timed(step, device, steps, warmup=3))
    epoch_s = TRAIN_IMAGES / batch * seconds
    return {
        "config": os.path.relpath(config, ROOT),
        "parameters": count_parameters(model),
        "bf16": bf16,
        "batch": batch,
        "step_ms": round(seconds * 1000, 2),
        "images_per_s": round(batch / seconds, 1),
        "epoch_minutes": round(epoch_s / 60, 1),
        "hours_for_config_epochs": round(cfg["epochs"] * epoch_s / 3600, 1),
        "config_epochs": cfg["epochs"],
    }


def training_section(args: argparse.Namespace) -> dict[str, Any]:
    """Training speed of each --train-config (default: the shipped net's and the wider one's)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return {Path(c).stem: training_on(Path(c), device, args.train_steps) for c in args.train_config}


# (name, function) pairs; append new sections here.
SECTIONS: list[tuple[str, Callable[[argparse.Namespace], dict[str, Any]]]] = [
    ("classifier", classifier_section),
    ("detector", detector_section),
    ("pipeline", pipeline_section),
    ("training", training_section),
]
DEFAULT_OFF = {"training"}  # minutes, not seconds: only when asked for with --only training


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output too)")
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--only", action="append", help="run only these sections (repeatable)")
    ap.add_argument(
        "--train-config",
        action="append",
        help="configs the training section times (default: fer_cnn and fer_cnn_wide)",
    )
    ap.add_argument("--train-steps", type=int, default=10, help="timed training steps per config")
    args = ap.parse_args(argv)
    args.train_config = args.train_config or [
        str(CONFIGS / "fer_cnn.json"),
        str(CONFIGS / "fer_cnn_wide.json"),
    ]
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "device": "cuda+cpu" if torch.cuda.is_available() else "cpu",
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # the numeric path (bf16 autocast or float32) and the CPU flags that decided it
        "numerics": asdict(numeric_choice(torch.device("cpu"))),
        # commit, CPU model and flags, torch and threads, and how busy the machine was
        **environment(),
    }
    for name, section in SECTIONS:
        if (name in args.only) if args.only else name not in DEFAULT_OFF:
            result[name] = section(args)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
