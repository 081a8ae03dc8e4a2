"""FER-2013 loading (npz, original csv, image folders) and batch augmentation in plain torch.

    from ml.data import load_npz
    splits = load_npz()            # {"train", "public", "private"} -> Split
    splits["train"].images.shape   # (28709, 48, 48) uint8

Paths come from env vars so tests and benchmarks run anywhere:
FER2013_NPZ (default <repo>/../shared/data/fer2013/fer2013.npz) and
FER2013_SAMPLE_DIR (default <repo>/../shared/data/fer2013/sample). Data never enters the repo.
Augmentation works on whole batches (one affine grid_sample + vectorised erasing), so on a
2-core CPU it costs a few percent of a training step. No torchvision (it does not import here).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ml.emotions import EMOTIONS

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "public", "private")
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "public", "PrivateTest": "private"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# FER+ vote column (`ferplus_vote_columns` in the npz) of each of our emotions
FERPLUS_COLUMN = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}


def default_npz_path() -> Path:
    return Path(os.environ.get("FER2013_NPZ", REPO.parent / "shared/data/fer2013/fer2013.npz"))


def default_sample_dir() -> Path:
    return Path(os.environ.get("FER2013_SAMPLE_DIR", REPO.parent / "shared/data/fer2013/sample"))


@dataclass(frozen=True)
class Split:
    """One split: images (N, 48, 48) uint8, labels (N,) int64 in EMOTIONS order.

    `ferplus` is the FER+ majority label per image (-1 none, 7 contempt) when known; `votes` the
    FER+ crowd votes (N, 7) for the seven emotions in EMOTIONS order (contempt, unknown and
    not-a-face dropped; all zero where FER+ has no row for the image).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    ferplus: np.ndarray | None = None
    votes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> Split:
        fp = None if self.ferplus is None else self.ferplus[idx]
        votes = None if self.votes is None else self.votes[idx]
        return Split(self.name, self.images[idx], self.labels[idx], fp, votes)


def emotion_votes(votes: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """FER+ vote counts (N, 10) in the file's column order -> (N, 7) in EMOTIONS order."""
    names = {str(c): i for i, c in enumerate(columns)}
    return np.stack([votes[:, names[FERPLUS_COLUMN[e]]] for e in EMOTIONS], 1).astype(np.float32)


def load_npz(path: str | Path | None = None) -> dict[str, Split]:
    """The shared fer2013.npz as train / public (PublicTest) / private (PrivateTest)."""
    path = Path(path) if path is not None else default_npz_path()
    if not path.is_file():
        raise FileNotFoundError(f"FER-2013 npz not found at {path} (set FER2013_NPZ)")
    with np.load(path) as d:
        usage = d["usage_test"]
        columns = d["ferplus_vote_columns"]
        out = {
            "train": Split(
                "train",
                d["x_train"],
                d["y_train"].astype(np.int64),
                d["ferplus_train"].astype(np.int64),
                emotion_votes(d["ferplus_votes_train"], columns),
            )
        }
        test_votes = emotion_votes(d["ferplus_votes_test"], columns)
        for name, usage_name in (("public", "PublicTest"), ("private", "PrivateTest")):
            m = usage == usage_name
            out[name] = Split(
                name,
                d["x_test"][m],
                d["y_test"][m].astype(np.int64),
                d["ferplus_test"][m].astype(np.int64),
                test_votes[m],
            )
    return out


def load_csv(path: str | Path) -> dict[str, Split]:
    """The original Kaggle fer2013.csv (columns emotion, pixels, Usage)."""
    images: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    labels: dict[str, list[int]] = {s: [] for s in SPLITS}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            split = USAGE_TO_SPLIT[row["Usage"]]
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            images[split].append(pixels.reshape(48, 48))
            labels[split].append(int(row["emotion"]))
    return {
        s: Split(
            s,
            np.stack(images[s]) if images[s] else np.zeros((0, 48, 48), np.uint8),
            np.array(labels[s], dtype=np.int64),
        )
        for s in SPLITS
    }


def read_face(path: str | Path, size: int = 48) -> np.ndarray:
    """One image file -> (size, size) uint8 grayscale."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    if img.shape != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


def load_image_folder(root: str | Path, name: str = "images") -> Split:
    """`root/<class>/*.jpg` (Kaggle msambare layout) or flat `root/<class>_<n>.jpg` (sample/)."""
    root = Path(root)
    paths: list[tuple[Path, int]] = []
    for label, emotion in enumerate(EMOTIONS):
        if (root / emotion).is_dir():
            paths += [(p, label) for p in sorted((root / emotion).iterdir())]
    if not paths:
        for p in sorted(root.iterdir()):
            prefix = p.stem.rsplit("_", 1)[0]
            if prefix in EMOTIONS:
                paths.append((p, EMOTIONS.index(prefix)))
    paths = [(p, y) for p, y in paths if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise FileNotFoundError(f"no labelled images under {root}")
    images = np.stack([read_face(p) for p, _ in paths])
    return Split(name, images, np.array([y for _, y in paths], dtype=np.int64))


def class_weights(labels: np.ndarray, mode: str = "none") -> torch.Tensor | None:
    """Loss weights for rare classes (disgust is 1.5% of train): none | inverse | inverse_sqrt."""
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    w = 1.0 / np.maximum(counts, 1.0)
    if mode == "inverse_sqrt":
        w = np.sqrt(w)
    elif mode != "inverse":
        raise ValueError(f"unknown class weighting {mode!r}")
    w = w / (w * counts).sum() * counts.sum()  # mean weight per sample stays 1
    return torch.tensor(w, dtype=torch.float32)


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip
    max_rotate_deg: float = 10.0
    max_shift_px: float = 4.0
    scale: tuple[float, float] = (0.9, 1.1)
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.2)


def augment(
    x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None = None
) -> torch.Tensor:
    """Random flip/rotate/scale/shift then random erasing, per sample.

    x: (N, 1, H, W) float, already normalised (zero fill == mean grey). Returns same shape/dtype.
    """
    n, _, h, w = x.shape
    if n == 0:
        return x

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    angle = uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg) * (math.pi / 180)
    scale = uniform(*cfg.scale)
    flip = torch.where(torch.rand(n, generator=gen) < cfg.flip, -1.0, 1.0)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size
    tx = uniform(-cfg.max_shift_px, cfg.max_shift_px) * 2 / w
    ty = uniform(-cfg.max_shift_px, cfg.max_shift_px) * 2 / h
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )  # (N, 2, 3): output pixel -> input sampling position
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    if cfg.erase_prob > 0:
        area = uniform(*cfg.erase_area) * h * w
        aspect = torch.exp(uniform(math.log(0.3), math.log(3.3)))
        eh = torch.sqrt(area * aspect).clamp(1, h)
        ew = torch.sqrt(area / aspect).clamp(1, w)
        y0 = torch.rand(n, generator=gen) * (h - eh)
        x0 = torch.rand(n, generator=gen) * (w - ew)
        rows = torch.arange(h, dtype=torch.float32).view(1, h, 1)
        cols = torch.arange(w, dtype=torch.float32).view(1, 1, w)
        inside = (
            (rows >= y0.view(n, 1, 1))
            & (rows < (y0 + eh).view(n, 1, 1))
            & (cols >= x0.view(n, 1, 1))
            & (cols < (x0 + ew).view(n, 1, 1))
        )
        apply = (torch.rand(n, generator=gen) < cfg.erase_prob).view(n, 1, 1)
        noise = torch.randn(out.shape, generator=gen, dtype=out.dtype)
        out = torch.where((inside & apply).unsqueeze(1), noise, out)
    return out
