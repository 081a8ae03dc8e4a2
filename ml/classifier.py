"""The emotion CNN, built from a config dict, and the one preprocessing config.

A compact VGG-style network for 48x48 grayscale faces (nanoGPT style: the whole model here).
The same `Preprocessing` object drives training, evaluation and inference, and is stored in
every checkpoint, so the three can never disagree on input size or normalisation.

    from ml.classifier import Preprocessing, build_model
    model = build_model({"widths": [32, 64, 128, 256], "depths": [2, 2, 2, 2]})
    logits = model(Preprocessing().normalise(faces_uint8))  # (N, 48, 48) uint8 -> (N, 7)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.emotions import EMOTIONS


@dataclass(frozen=True)
class Preprocessing:
    """How a face crop becomes a model input. Mean/std are computed on the training split."""

    input_size: int = 48
    mean: float = 0.5
    std: float = 0.25
    grayscale: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def normalise(self, faces: torch.Tensor) -> torch.Tensor:
        """(N, H, W) or (N, 1, H, W) uint8 (or float in 0..255) -> (N, 1, H, W) float32."""
        if faces.ndim == 3:
            faces = faces.unsqueeze(1)
        return (faces.float() * (1.0 / 255.0) - self.mean) / self.std


@dataclass(frozen=True)
class ArchConfig:
    """Architecture hyper-parameters; stored in the checkpoint so loading never guesses."""

    kind: str = "vgg"
    in_channels: int = 1
    num_classes: int = len(EMOTIONS)
    widths: tuple[int, ...] = (32, 64, 128, 256)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    fc_hidden: int = 256  # 0 = global average pooling straight into the classifier
    dropout: float = 0.4
    input_size: int = 48

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["widths"], d["depths"] = list(self.widths), list(self.depths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown architecture keys: {sorted(unknown)}")
        d = dict(d)
        for key in ("widths", "depths"):
            if key in d:
                d[key] = tuple(int(v) for v in d[key])
        cfg = cls(**d)
        if cfg.kind != "vgg":
            raise ValueError(f"unknown architecture kind {cfg.kind!r}")
        if len(cfg.widths) != len(cfg.depths):
            raise ValueError("widths and depths must have the same length")
        return cfg


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    # bias is redundant before BatchNorm
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class EmotionCNN(nn.Module):
    """Stages of 3x3 conv-BN-ReLU blocks, each stage ending in a 2x2 max-pool, then a small head."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in, side = cfg.in_channels, cfg.input_size
        for width, depth in zip(cfg.widths, cfg.depths, strict=True):
            for _ in range(depth):
                layers.append(conv_bn_relu(c_in, width))
                c_in = width
            layers.append(nn.MaxPool2d(2))
            side //= 2
        # with the default config: (N, 1, 48, 48) -> (N, 256, 3, 3)
        self.features = nn.Sequential(*layers)
        if cfg.fc_hidden > 0:
            # keeping the 3x3 layout (where the mouth and eyes are) helps on FER
            self.head = nn.Sequential(
                nn.Flatten(),  # (N, 256 * 3 * 3)
                nn.Dropout(cfg.dropout),
                nn.Linear(c_in * side * side, cfg.fc_hidden, bias=False),
                nn.BatchNorm1d(cfg.fc_hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.fc_hidden, cfg.num_classes),
            )
        else:
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),  # (N, 256)
                nn.Dropout(cfg.dropout),
                nn.Linear(c_in, cfg.num_classes),
            )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 1, 48, 48) normalised -> logits (N, 7)
        return self.head(self.features(x))


def build_model(arch: dict[str, Any] | ArchConfig) -> EmotionCNN:
    cfg = arch if isinstance(arch, ArchConfig) else ArchConfig.from_dict(arch)
    return EmotionCNN(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.inference_mode()
def batched_logits(
    model: nn.Module,
    faces: np.ndarray,
    pre: Preprocessing,
    device: torch.device,
    *,
    bf16: bool = False,
    batch: int = 256,
) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, num_classes) float32 logits; the model must be in eval mode.

    The one inference path shared by training-time validation, evaluation and the product.
    """
    faces = np.asarray(faces)
    size = pre.input_size
    if faces.ndim != 3 or faces.shape[1:] != (size, size):
        raise ValueError(f"faces must be (N, {size}, {size}) uint8, got {faces.shape}")
    n_out = model.cfg.num_classes if isinstance(model, EmotionCNN) else len(EMOTIONS)
    out = np.zeros((len(faces), n_out), dtype=np.float32)
    for start in range(0, len(faces), batch):
        x = torch.from_numpy(np.ascontiguousarray(faces[start : start + batch])).to(device)
        x = pre.normalise(x).contiguous(memory_format=torch.channels_last)  # (B, 1, 48, 48)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = model(x)  # (B, 7)
        out[start : start + len(x)] = y.float().cpu().numpy()
    return out
