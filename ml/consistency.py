"""Does the full pipeline see faces the way the classifier saw them in training?

Each FER-2013 face is upscaled (120-240 px), pasted at a random place on a 640x480 background
(plain colour, noise, or a photo-like texture), and run through the whole pipeline (detect,
align, crop, classify). The result is compared with classifying the original 48x48 face
directly, and counts false faces on background-only frames. Seeded: the same command gives the
same frames.

    python -m ml.consistency --json [--n 500] [--split private] [--checkpoint PATH]
    python -m ml.consistency --calibrate [--n 2000]   # measures the crop template (Training faces)

`--calibrate` maps the detected landmarks back onto the 48x48 grid and prints their medians:
the FER-2013 framing that ml/preprocessing.py's FER_EYES_MID / FER_BOX_SIDE hold.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ml.checkpoint import DEFAULT_CHECKPOINT
from ml.data import load_npz
from ml.detector import FaceBox, MTCNNDetector
from ml.pipeline import EmotionPipeline, FaceEmotion, retry_views
from ml.runinfo import environment

FRAME_W, FRAME_H = 640, 480
BACKGROUNDS = ("plain", "noise", "texture")
BATCH = 16  # frames per pipeline call


@dataclass(frozen=True)
class Placement:
    x: int
    y: int
    size: int
    background: str

    def holds(self, face: FaceBox | FaceEmotion) -> bool:
        """The detection belongs to this face when its centre lies inside the pasted square."""
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        return self.x <= cx <= self.x + self.size and self.y <= cy <= self.y + self.size


def background(kind: str, rng: np.random.Generator) -> np.ndarray:
    """(480,640,3) uint8 background of the given kind."""
    shape = (FRAME_H, FRAME_W, 3)
    if kind == "plain":
        return np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), shape).copy()
    if kind == "noise":
        mean = rng.uniform(60, 200)
        return np.clip(rng.normal(mean, 30, shape), 0, 255).astype(np.uint8)
    if kind == "texture":
        # Photo-like: smooth shading at several scales (1/f-ish), a tint, and a few hard edges
        # (shapes) so P-Net sees structure that is not a face.
        img = np.zeros(shape, np.float32)
        # Luminance shared by the channels (as in photos), colour varying only slowly.
        for cell, weight, channels in (
            (64, 45.0, 1),
            (64, 20.0, 3),
            (16, 25.0, 1),
            (4, 12.0, 1),
            (1, 5.0, 1),
        ):
            # Noise on a coarse grid, smoothly upscaled: the cheap way to get blobs of that size.
            coarse = rng.normal(0, 1, (FRAME_H // cell + 2, FRAME_W // cell + 2, channels))
            layer = cv2.resize(
                coarse.astype(np.float32), None, fx=cell, fy=cell, interpolation=cv2.INTER_CUBIC
            )
            img += (
                weight * layer.reshape(layer.shape[0], layer.shape[1], channels)[:FRAME_H, :FRAME_W]
            )
        img += rng.uniform(70, 190, 3).astype(np.float32)
        for _ in range(int(rng.integers(3, 8))):
            colour = [float(c) for c in rng.uniform(0, 255, 3)]
            x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
            w, h = int(rng.integers(20, 200)), int(rng.integers(20, 200))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
            else:
                cv2.ellipse(
                    img, (x, y), (w // 2, h // 2), float(rng.uniform(0, 180)), 0, 360, colour, -1
                )
        return np.clip(img, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown background {kind!r}")


def compose(faces: np.ndarray, seed: int) -> tuple[list[np.ndarray], list[Placement]]:
    """One RGB frame per 48x48 face (N,48,48), with where the face went."""
    rng = np.random.default_rng(seed)
    frames, placements = [], []
    for i, face in enumerate(faces):
        kind = BACKGROUNDS[i % len(BACKGROUNDS)]
        size = int(rng.integers(120, 241))
        x, y = int(rng.integers(0, FRAME_W - size + 1)), int(rng.integers(0, FRAME_H - size + 1))
        frame = background(kind, rng)
        big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        frame[y : y + size, x : x + size] = big[:, :, None]
        frames.append(frame)
        placements.append(Placement(x, y, size, kind))
    return frames, placements


def pick(n_total: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False))


def calibrate(n: int, seed: int) -> dict:
    """Median landmark positions on the 48x48 grid over n Training faces (all backgrounds)."""
    train = load_npz()["train"]
    idx = pick(len(train), n, seed)
    frames, placements = compose(train.images[idx], seed)
    detector = MTCNNDetector()
    points, boxes = [], []
    for start in range(0, len(frames), BATCH):
        found = detector.detect(frames[start : start + BATCH])
        for faces, place in zip(found, placements[start : start + BATCH], strict=True):
            mine = [f for f in faces if place.holds(f)]
            if mine:
                points.append(
                    (np.asarray(mine[0].landmarks) - [place.x, place.y]) * 48 / place.size
                )
                boxes.append((np.asarray(mine[0].box) - [place.x, place.y] * 2) * 48 / place.size)
    pts, bxs = np.asarray(points), np.asarray(boxes)  # (M,5,2), (M,4) on the 48x48 grid
    eyes, mouth = (pts[:, 0] + pts[:, 1]) / 2, (pts[:, 3] + pts[:, 4]) / 2
    # How well each candidate size measure predicts the true face size: the relative spread
    # (std / mean) of the measure on the 48 grid, lower is better. FER's own registration is
    # not perfect, so none reaches 0.
    sizes = {
        "box_mean_side": (bxs[:, 2] - bxs[:, 0] + bxs[:, 3] - bxs[:, 1]) / 2,
        "eye_distance": np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1),
        "eye_mouth_distance": np.linalg.norm(mouth - eyes, axis=1),
        "landmark_spread": np.sqrt(((pts - pts.mean(1, keepdims=True)) ** 2).sum(2).mean(1)),
    }
    return {
        "faces": len(frames),
        "detected": len(pts),
        "box_median": np.median(bxs, axis=0).round(2).tolist(),
        "size_measures": {
            k: {
                "median": round(float(np.median(v)), 2),
                "relative_spread": round(float(v.std() / v.mean()), 3),
            }
            for k, v in sizes.items()
        },
        "landmarks_median": np.median(pts, axis=0).round(2).tolist(),
        "eyes_mid_median": np.median(eyes, axis=0).round(2).tolist(),
        "mouth_mid_median": np.median(mouth, axis=0).round(2).tolist(),
        "eye_mouth_distance_median": round(float(np.median(mouth[:, 1] - eyes[:, 1])), 2),
    }


def faceless_with_faces(pipeline: EmotionPipeline, n: int, seed: int) -> int:
    """How many of n faceless backgrounds (all three kinds) the pipeline reports a face in."""
    rng = np.random.default_rng(seed + 1)
    frames = [background(BACKGROUNDS[i % len(BACKGROUNDS)], rng) for i in range(n)]
    results = []
    for start in range(0, n, BATCH):
        results += pipeline(frames[start : start + BATCH])
    return sum(bool(faces) for faces in results)


def consistency(
    pipeline: EmotionPipeline, split: str, n: int, seed: int, faceless: int = 0
) -> dict:
    data = load_npz()[split]
    idx = pick(len(data), n, seed)
    faces, labels = data.images[idx], data.labels[idx]
    frames, placements = compose(faces, seed)
    direct = pipeline.classifier.predict_proba(faces).argmax(1)  # (n,)
    through = np.full(len(frames), -1)  # pipeline's label, -1 = face not found
    false_faces = 0
    started = time.perf_counter()
    for start in range(0, len(frames), BATCH):
        results = pipeline(frames[start : start + BATCH])
        for k, (found, place) in enumerate(
            zip(results, placements[start : start + BATCH], strict=True)
        ):
            mine = [f for f in found if place.holds(f)]
            false_faces += len(found) - len(mine)
            if mine:  # the product reads the largest face; pasted faces are the largest here
                through[start + k] = list(pipeline.classifier.labels).index(mine[0].emotion)
    seconds = time.perf_counter() - started
    hit = through >= 0
    kinds = np.array([p.background for p in placements])
    per_background = {}
    for kind in BACKGROUNDS:
        m = kinds == kind
        per_background[kind] = {
            "n": int(m.sum()),
            "detection_rate": round(float(hit[m].mean()), 4),
            "pipeline_accuracy": round(float((through[m] == labels[m]).mean()), 4),
            "direct_accuracy": round(float((direct[m] == labels[m]).mean()), 4),
        }
    direct_acc = float((direct == labels).mean())
    pipe_acc = float((through == labels).mean())
    return {
        "benchmark": "consistency",
        "split": split,
        "n": len(frames),
        "seed": seed,
        "detection_rate": round(float(hit.mean()), 4),
        "direct_accuracy": round(direct_acc, 4),
        "pipeline_accuracy": round(pipe_acc, 4),  # a missed face counts as wrong
        "accuracy_gap_points": round(100 * (direct_acc - pipe_acc), 2),
        "detected_pipeline_accuracy": round(float((through[hit] == labels[hit]).mean()), 4),
        "detected_direct_accuracy": round(float((direct[hit] == labels[hit]).mean()), 4),
        "agreement_with_direct": round(float((through[hit] == direct[hit]).mean()), 4),
        "false_faces": int(false_faces),  # detections away from the pasted face
        "faceless_frames": faceless,
        "faceless_frames_with_a_face": faceless_with_faces(pipeline, faceless, seed)
        if faceless
        else None,
        "per_background": per_background,
        "detector": {
            "min_face_size": pipeline.detector.min_face_size,
            "thresholds": list(pipeline.detector.thresholds),
            "retry_views": [list(v) for v in pipeline.detector.retry_views],
            "retry_min_score": pipeline.detector.retry_min_score,
            "retry_scale_factor": pipeline.detector.retry_stages.scale_factor,
            "retry_thresholds": list(pipeline.detector.retry_stages.thresholds),
        },
        "model_version": pipeline.model_version,
        "device": pipeline.device,
        "frames_per_s": round(len(frames) / seconds, 2),
        **environment(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faceless", type=int, default=150, help="background-only frames to try")
    parser.add_argument("--split", default="private", choices=("train", "public", "private"))
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--calibrate", action="store_true", help="measure the FER crop template")
    parser.add_argument("--no-retry", action="store_true", help="pipeline without the retry")
    parser.add_argument(
        "--turned-only", action="store_true", help="retry the turned views only (no mirroring)"
    )
    parser.add_argument("--retry-min-score", type=float, help="override the retry's score cut-off")
    parser.add_argument("--retry-scale-factor", type=float, help="the retry's pyramid step")
    parser.add_argument(
        "--retry-thresholds", type=float, nargs=3, help="the retry's P-Net, R-Net, O-Net cut-offs"
    )
    args = parser.parse_args()
    if args.calibrate:
        result = calibrate(args.n, args.seed)
    else:
        extra: dict = {}
        if args.no_retry or args.turned_only:
            extra["retry_views"] = retry_views("off" if args.no_retry else "turned")
        if args.retry_min_score is not None:
            extra["retry_min_score"] = args.retry_min_score
        if args.retry_scale_factor is not None:
            extra["retry_scale_factor"] = args.retry_scale_factor
        if args.retry_thresholds is not None:
            extra["retry_thresholds"] = tuple(args.retry_thresholds)
        pipeline = EmotionPipeline.from_checkpoint(args.checkpoint, device=args.device, **extra)
        result = consistency(pipeline, args.split, args.n, args.seed, args.faceless)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
