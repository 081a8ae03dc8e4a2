"""Self-describing emotion-classifier checkpoints and the loader the product uses.

    from ml.checkpoint import DEFAULT_CHECKPOINT, load_classifier
    clf = load_classifier(DEFAULT_CHECKPOINT)          # or device="cuda"
    probs = clf.predict_proba(faces)                   # (N, 48, 48) uint8 -> (N, 7) float32

A checkpoint is a dict of tensors and plain Python values only (loaded with weights_only=True):
format tag, name, architecture config, labels, preprocessing, temperature, training config,
metrics, git commit and the state_dict. Anything wrong with the file raises `CheckpointError`.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.classifier import ArchConfig, Preprocessing, batched_logits, build_model
from ml.emotions import EMOTIONS
from ml.numerics import bf16_fast_on, int8_on
from ml.quantize import quantized, read_sidecar, sidecar_path

DEFAULT_CHECKPOINT = Path(__file__).parent / "weights" / "emotion.pt"
FORMAT = "moodtune-emotion-classifier"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "name", "arch", "labels", "preprocessing", "temperature")
BATCH = 256  # predict_proba's internal batch: large enough for throughput, bounded memory


class CheckpointError(Exception):
    """A checkpoint file is missing, corrupt, or not an emotion-classifier checkpoint."""


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    name: str,
    arch: ArchConfig,
    preprocessing: Preprocessing,
    temperature: float = 1.0,
    train_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a shipped-format checkpoint. `half` stores weights as float16 (half the bytes)."""
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "arch": arch.to_dict(),
        "labels": list(EMOTIONS),
        "preprocessing": preprocessing.to_dict(),
        "temperature": float(temperature),
        "train_config": train_config or {},
        "metrics": metrics or {},
        "git_commit": git_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "state_dict": state,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)  # atomic: a reader never sees a half-written file
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], str]:
    """Load and validate the raw dict; returns (checkpoint, sha256 hex of the file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/garbage/pickled files
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an emotion-classifier checkpoint (format tag missing)"
        )
    missing = [k for k in (*REQUIRED, "state_dict") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks required fields: {missing}")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {ckpt['format_version']}, newer than this code"
        )
    if tuple(ckpt["labels"]) != EMOTIONS:
        raise CheckpointError(f"{path} labels {ckpt['labels']} differ from {list(EMOTIONS)}")
    return ckpt, digest


@dataclass
class LoadedClassifier:
    """A ready-to-run classifier. Not frozen: it owns a live nn.Module."""

    model: nn.Module
    labels: tuple[str, ...]
    input_size: int
    temperature: float
    version: str
    device: torch.device
    preprocessing: Preprocessing
    use_bf16: bool = False  # bf16 autocast on CPU: ~2x faster, same top-1 (see MODEL.md)
    int8: bool = False  # the int8 model of ml.quantize (CPU only)
    metadata: dict[str, Any] | None = None

    def logits(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 -> (N, 7) float32 raw logits (before temperature)."""
        return batched_logits(
            self.model, faces, self.preprocessing, self.device, bf16=self.use_bf16, batch=BATCH
        )

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 grayscale crops -> (N, 7) calibrated probabilities, float32."""
        z = torch.from_numpy(self.logits(faces)) / self.temperature
        return torch.softmax(z, dim=1).numpy().astype(np.float32)


def load_classifier(
    path: str | Path = DEFAULT_CHECKPOINT,
    device: str | torch.device = "cpu",
    *,
    bf16: bool | None = None,
    int8: bool | None = None,
) -> LoadedClassifier:
    """Build the model described by the checkpoint, in eval mode on `device`.

    bf16=None picks bf16 autocast where the hardware runs it natively, float32 otherwise
    (ml.numerics decides, from the CPU's flags). int8=None runs the int8 model where ML_INT8
    asks for it (ml.numerics); it needs the checkpoint's calibrated ranges (ml.quantize) and
    a missing or stale ranges file is an error, never a silent float fallback.
    """
    ckpt, digest = read_checkpoint(path)
    device = torch.device(device)
    try:
        arch = ArchConfig.from_dict(ckpt["arch"])
        pre = Preprocessing.from_dict(ckpt["preprocessing"])
        model: nn.Module = build_model(arch)
        state = {
            k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()
        }
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} does not match its architecture: {e}") from e
    model = model.to(device).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    temperature = float(ckpt["temperature"])
    if not temperature > 0:
        raise CheckpointError(f"checkpoint {path} has invalid temperature {temperature}")
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    version = f"{ckpt['name']}@{digest[:12]}"
    use_int8 = int8_on(device) if int8 is None else int8
    if use_int8:
        if device.type != "cpu":
            raise CheckpointError(f"int8 runs on the CPU only, not on {device}")
        try:
            model = quantized(model, pre, read_sidecar(sidecar_path(path), version))
        except (OSError, ValueError, KeyError) as e:
            raise CheckpointError(f"no int8 model for {path}: {e}") from e
    return LoadedClassifier(
        model=model,
        labels=tuple(ckpt["labels"]),
        input_size=pre.input_size,
        temperature=temperature,
        version=version,
        device=device,
        preprocessing=pre,
        use_bf16=False if use_int8 else (bf16_fast_on(device) if bf16 is None else bf16),
        int8=use_int8,
        metadata=meta,
    )
