"""Evaluate a shipped-format checkpoint on FER-2013 (or a folder of labelled face images).

    python -m ml.evaluate --checkpoint ml/weights/emotion.pt --split private --json
    python -m ml.evaluate --split public --tta --confusion runs/confusion_public.png
    python -m ml.evaluate --images ../shared/data/fer2013/sample --json

Prints ONE JSON object: accuracy, per_class precision/recall/F1, macro_f1, happy_vs_sad_accuracy,
ferplus_accuracy (images whose FER+ majority is one of the 7 emotions), ece (15 bins, with the
checkpoint's temperature) and ece_uncalibrated (temperature 1), n, and the checkpoint version.
Inference goes through `LoadedClassifier.logits`, the same path the product uses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.checkpoint import DEFAULT_CHECKPOINT, LoadedClassifier, load_classifier
from ml.data import Split, load_image_folder, load_npz
from ml.emotions import EMOTIONS
from ml.metrics import ece, nll, softmax, summary

TTA_SHIFT = 3  # pixels; training shifts by up to 4


def shift(faces: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate (N, H, W) images by (dy, dx) pixels, repeating the edge pixels into the gap."""
    h, w = faces.shape[1:]
    p = max(abs(dy), abs(dx))
    padded = np.pad(faces, ((0, 0), (p, p), (p, p)), mode="edge")
    return padded[:, p - dy : p - dy + h, p - dx : p - dx + w]


def tta_views(faces: np.ndarray) -> list[np.ndarray]:
    """Ten views per face: {identity, mirror} x {centre, up, down, left, right shifts}."""
    views = []
    for img in (faces, faces[:, :, ::-1]):
        for dy, dx in ((0, 0), (-TTA_SHIFT, 0), (TTA_SHIFT, 0), (0, -TTA_SHIFT), (0, TTA_SHIFT)):
            views.append(np.ascontiguousarray(shift(img, dy, dx)))
    return views


def predict_logits(clf: LoadedClassifier, faces: np.ndarray, tta: bool = False) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, 7) logits; with TTA the logits of the ten views are averaged."""
    if not tta:
        return clf.logits(faces)
    return np.mean([clf.logits(v) for v in tta_views(faces)], axis=0)


def select(splits: dict[str, Split], split: str) -> Split:
    if split == "all":
        a, b = splits["public"], splits["private"]
        assert a.ferplus is not None and b.ferplus is not None
        return Split(
            "all",
            np.concatenate([a.images, b.images]),
            np.concatenate([a.labels, b.labels]),
            np.concatenate([a.ferplus, b.ferplus]),
        )
    return splits[split]


def evaluate(clf: LoadedClassifier, data: Split, tta: bool = False) -> dict[str, Any]:
    z = predict_logits(clf, data.images, tta)
    probs = softmax(z, clf.temperature)
    raw = softmax(z)
    report = summary(probs, data.labels, data.ferplus)
    return {
        "checkpoint_version": clf.version,
        "split": data.name,
        "tta": tta,
        "bf16": clf.use_bf16,
        "int8": clf.int8,
        "device": str(clf.device),
        "temperature": round(clf.temperature, 4),
        **report,
        "ece_uncalibrated": round(ece(raw, data.labels), 4),
        "nll_uncalibrated": round(nll(raw, data.labels), 4) if len(data) else None,
    }


def plot_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            colour = "white" if rows[i, j] > 0.5 else "black"
            ax.text(j, i, f"{rows[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center",
                    fontsize=7, color=colour)  # fmt: skip
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45)
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    ap.add_argument("--data", help="fer2013.npz (default $FER2013_NPZ or ../shared)")
    ap.add_argument("--split", choices=["private", "public", "all"], default="private")
    ap.add_argument("--images", type=Path, help="evaluate a folder of labelled images instead")
    ap.add_argument("--tta", action="store_true", help="average ten flipped/shifted views")
    ap.add_argument("--json", action="store_true", help="one compact JSON line (else indented)")
    ap.add_argument("--confusion", type=Path, help="write a confusion-matrix PNG here")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fp32", action="store_true", help="disable bf16 autocast")
    ap.add_argument("--int8", action="store_true", help="the int8 model (ml.quantize), CPU")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    clf = load_classifier(
        args.checkpoint,
        args.device,
        bf16=False if args.fp32 else None,
        int8=True if args.int8 else None,
    )
    if args.images:
        data = load_image_folder(args.images, name=str(args.images))
    else:
        data = select(load_npz(args.data), args.split)
    result = evaluate(clf, data, args.tta)
    if args.confusion:
        title = f"{data.name}{' +TTA' if args.tta else ''}: acc {result['accuracy']}"
        plot_confusion(np.array(result["confusion"]), args.confusion, title)
        result["confusion_png"] = str(args.confusion)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
