"""MTCNN face detector in PyTorch: image pyramid, P-Net -> R-Net -> O-Net, boxes and 5 landmarks.

Matches the `mtcnn` 1.0.0 (TensorFlow) package's detections (tests/ml/test_detector.py checks
a fixture made by ml/tools/make_mtcnn_fixture.py) while running several times faster on CPU,
and on CUDA when present. Many frames are detected at once: frames of the same size share every
P-Net call (one batch per pyramid level), and the R-Net/O-Net crops of all frames form one batch.

    python -m ml.detector IMAGE [IMAGE ...] [--min-face 20] [--device auto]   # prints JSON faces
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from ml.boxes import (
    apply_affine,
    apply_offsets,
    crop_and_resize,
    nms,
    to_square,
    unrotate_box,
    view_of,
)
from ml.mtcnn_nets import load_mtcnn_nets
from ml.preprocessing import ensure_rgb, read_image


@dataclass(frozen=True)
class FaceBox:
    """One detected face in frame pixels: box corners, detection score, and 5 landmarks (x, y).

    Landmarks: left eye, right eye, nose, mouth left, mouth right, where left/right are as seen
    in the image (the reference's naming): "left eye" is the eye with the smaller x.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height


def normalise(frame: np.ndarray) -> np.ndarray:
    """(x - 127.5) / 128 as float32 HWC, as the nets were trained. In place on one new array
    (no full-frame temporaries), bit-identical to the plain expression (1/128 is exact)."""
    out = frame.astype(np.float32)
    out -= np.float32(127.5)
    out *= np.float32(1 / 128)
    return out


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pyramid_scales(
    height: int, width: int, min_face_size: float, scale_factor: float
) -> list[float]:
    """Scales at which a 12 px P-Net window covers faces from min_face_size upwards.

    The reference computes a level count that ignores min_face_size and so, from a minimum face
    of about 30 px, asks for levels under 12 px and fails on them (it then reports no face at all);
    we stop at the last level that still holds a 12 px window, as the original MTCNN does.
    """
    scales, scale = [], 12.0 / min_face_size
    while min(height, width) * scale >= 12:
        scales.append(scale)
        scale *= scale_factor
    return scales


# A face inside the cascade: box (4,), score, landmarks (5, 2), in the pixels of what was scanned.
Found = tuple[np.ndarray, float, np.ndarray]
# Landmark order after mapping a mirrored view back: the eyes and the mouth corners swap sides.
MIRRORED_LANDMARKS = [1, 0, 2, 4, 3]


@dataclass(frozen=True)
class Stages:
    """One cascade configuration: the pyramid step and the P-Net, R-Net, O-Net cut-offs."""

    scale_factor: float
    thresholds: tuple[float, float, float]

    def __post_init__(self) -> None:
        if not 0 < self.scale_factor < 1 or not all(0 < t < 1 for t in self.thresholds):
            raise ValueError("need 0 < scale_factor < 1 and thresholds in (0, 1)")

    @property
    def pnet_logit(self) -> float:
        """P-Net's cut-off as a logit: softmax over 2 classes is a sigmoid of their difference."""
        t = self.thresholds[0]
        return math.log(t / (1 - t))


class MTCNNDetector:
    """Detects faces in RGB uint8 frames. Parameters as in MTCNN; defaults as in the reference.

    min_face_size: smallest face side (px) looked for; thresholds: P-Net, R-Net, O-Net face-score
    cut-offs; scale_factor: pyramid step; max_faces: keep at most this many (the largest) per
    frame; max_side: frames whose longer side exceeds it are downscaled for detection (results
    are mapped back to the full frame); frames_per_pass: frames batched through one cascade pass
    (default 32 on CUDA, 1 on CPU).

    The retry (off by default, as in the reference; EmotionPipeline turns it on): a frame with
    no face is detected again in each of `retry_views`, (degrees, mirrored) pairs: turned views
    find heads rolled past MTCNN's ~30 degrees, mirrored ones faces the cascade misses on one
    side only (its nets are not left-right symmetric). The retry runs the cascade with
    `retry_scale_factor` and `retry_thresholds` (a finer pyramid and looser early stages give
    O-Net more candidates); the view with the best-scored face wins, and only faces scoring at
    least `retry_min_score` count, which keeps false faces on empty frames down (ml/DETECTOR.md).
    """

    def __init__(
        self,
        min_face_size: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
        scale_factor: float = 0.709,
        max_faces: int | None = None,
        max_side: int = 1280,
        retry_views: tuple[tuple[float, bool], ...] = (),
        retry_min_score: float = 0.99,
        retry_scale_factor: float | None = None,
        retry_thresholds: tuple[float, float, float] | None = None,
        frames_per_pass: int | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        if min_face_size < 12 or max_side < 12:
            raise ValueError("need min_face_size >= 12 and max_side >= 12")
        self.min_face_size = min_face_size
        self.max_faces = max_faces
        self.max_side = max_side
        self.retry_views = tuple((float(a), bool(m)) for a, m in retry_views)
        self.retry_min_score = retry_min_score
        self.stages = Stages(scale_factor, thresholds)
        self.retry_stages = Stages(
            retry_scale_factor or scale_factor, retry_thresholds or thresholds
        )
        self.device = resolve_device(device)
        # How many frames share one pass of the cascade. On a GPU, many (the batch is what makes
        # it fast); on CPU one: batching there was slower per frame (ml.bench_detector on the
        # detector of 32987e9: 91 vs 52 ms at batch 16 vs 1); the convolutions already use the
        # cores, and a batch of frames only spills the caches.
        self.frames_per_pass = frames_per_pass or (32 if self.device.type == "cuda" else 1)
        self.pnet, self.rnet, self.onet = load_mtcnn_nets(self.device)
        self.pnet_head = self.pnet.fused_head()

    @property
    def thresholds(self) -> tuple[float, float, float]:
        return self.stages.thresholds

    @property
    def scale_factor(self) -> float:
        return self.stages.scale_factor

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        return self.detect([image])[0]

    @torch.inference_mode()
    def detect(self, images: list[np.ndarray]) -> list[list[FaceBox]]:
        """Faces per frame, largest first. Frames: RGB uint8 (H,W,3); gray and RGBA are accepted."""
        if not images:
            return []
        frames, factors = [], []
        for image in images:
            rgb = ensure_rgb(image)
            factor = min(1.0, self.max_side / max(1, *rgb.shape[:2]))  # empty frames: no face
            if factor < 1.0:  # area averaging keeps the detail P-Net needs when shrinking
                size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            frames.append(rgb)
            factors.append(factor)
        found = self._cascade_chunked(frames, self.stages)
        # Frames under P-Net's 12 px window cannot hold a face at any angle.
        missing = [
            i for i, faces in enumerate(found) if not faces and min(frames[i].shape[:2]) >= 12
        ]
        if self.retry_views and missing:
            for i, faces in zip(missing, self._retry([frames[i] for i in missing]), strict=True):
                found[i] = faces
        return [
            self._to_faces(f, frame, factor)
            for f, frame, factor in zip(found, frames, factors, strict=True)
        ]

    def _retry(self, frames: list[np.ndarray]) -> list[list[Found]]:
        """Each frame in every retry view; per frame, the confident faces of its best view,
        mapped back to frame pixels."""
        views = [view_of(f, a, m) for f in frames for a, m in self.retry_views]
        results = self._cascade_chunked([canvas for canvas, _ in views], self.retry_stages)
        per = len(self.retry_views)
        out = []
        for k in range(len(frames)):
            tries = []
            for faces, (_, inverse), (_, mirrored) in zip(
                results[k * per : (k + 1) * per],
                views[k * per : (k + 1) * per],
                self.retry_views,
                strict=True,
            ):
                order = MIRRORED_LANDMARKS if mirrored else slice(None)
                tries.append(
                    [
                        (unrotate_box(b, inverse), sc, apply_affine(inverse, m)[order])
                        for b, sc, m in faces
                        if sc >= self.retry_min_score
                    ]
                )
            out.append(max(tries, key=lambda faces: max((f[1] for f in faces), default=0.0)))
        return out

    def _cascade_chunked(self, frames: list[np.ndarray], stages: Stages) -> list[list[Found]]:
        out = []
        for start in range(0, len(frames), self.frames_per_pass):
            out += self._cascade(frames[start : start + self.frames_per_pass], stages)
        return out

    def _cascade(self, frames: list[np.ndarray], stages: Stages) -> list[list[Found]]:
        """P-Net -> R-Net -> O-Net over RGB frames: per frame (box (4,), score, landmarks (5,2))."""
        normed = [normalise(f) for f in frames]
        boxes, scores, ids = self._propose(normed, stages)
        flat = torch.from_numpy(np.concatenate([n.reshape(-1, 3) for n in normed])).to(self.device)
        sizes = np.array([n.shape[0] * n.shape[1] for n in normed])
        meta = torch.tensor(
            [
                [off, n.shape[0], n.shape[1]]
                for off, n in zip(np.cumsum(sizes) - sizes, normed, strict=True)
            ],
            dtype=torch.long,
            device=self.device,
        )
        boxes, scores, ids = self._refine(flat, meta, boxes, ids, stages.thresholds[1])
        boxes, scores, ids, marks = self._output(flat, meta, boxes, ids, stages.thresholds[2])
        result: list[list[Found]] = [[] for _ in frames]
        for box, score, i, mark in zip(
            boxes.cpu().double().numpy(),
            scores.cpu().numpy(),
            ids.cpu().numpy(),
            marks.cpu().double().numpy(),
            strict=True,
        ):
            result[i].append((box, float(score), mark))
        return result

    def _propose(
        self, normed: list[np.ndarray], stages: Stages
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """P-Net over the pyramid of every frame. -> boxes (N,4), scores (N,), frame ids (N,)."""
        by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, frame in enumerate(normed):
            by_shape[frame.shape[:2]].append(i)
        all_boxes, all_scores, all_ids = [], [], []
        for (h, w), members in by_shape.items():
            member_ids = torch.tensor(members, device=self.device)
            for scale in pyramid_scales(h, w, self.min_face_size, stages.scale_factor):
                # The reference truncates the level size (TF casts the float size to int).
                hs, ws = int(h * scale), int(w * scale)
                level = np.stack(
                    [cv2.resize(normed[i], (ws, hs), interpolation=cv2.INTER_AREA) for i in members]
                )
                # NHWC memory seen as NCHW is channels_last: faster convs for 3-32 channels.
                x = torch.from_numpy(level).to(self.device).permute(0, 3, 1, 2)  # (B,3,hs,ws)
                out = self.pnet_head(self.pnet.features(x))  # (B,5,h,w): offsets, face logit
                b, r, c = torch.nonzero(out[:, 4] > stages.pnet_logit, as_tuple=True)
                if b.numel() == 0:
                    continue
                found = out[b, :, r, c]  # (K,5)
                # Each output cell is a 12x12 window with stride 2; +1 as in the reference.
                x1, y1 = c.float() * 2 + 1, r.float() * 2 + 1
                cells = torch.stack([x1, y1, x1 + 11, y1 + 11], dim=1)
                level_boxes = (cells + found[:, :4] * 11) / scale
                level_scores, level_ids = torch.sigmoid(found[:, 4]), member_ids[b]
                keep = nms(level_boxes, level_scores, level_ids, 0.5, "union")
                all_boxes.append(level_boxes[keep])
                all_scores.append(level_scores[keep])
                all_ids.append(level_ids[keep])
        if not all_boxes:
            return self._empty()
        boxes, scores, ids = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_ids)
        keep = nms(boxes, scores, ids, 0.7, "union")
        return to_square(boxes[keep]), scores[keep], ids[keep]

    def _refine(
        self,
        flat: torch.Tensor,
        meta: torch.Tensor,
        boxes: torch.Tensor,
        ids: torch.Tensor,
        threshold: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """R-Net on 24x24 crops of all candidates of all frames at once."""
        if boxes.shape[0] == 0:
            return self._empty()
        offsets, prob = self.rnet(crop_and_resize(flat, meta, boxes, ids, 24))
        boxes = apply_offsets(boxes, offsets)
        mask = prob > threshold
        boxes, prob, ids = boxes[mask], prob[mask], ids[mask]
        keep = nms(boxes, prob, ids, 0.7, "union")
        return to_square(boxes[keep]), prob[keep], ids[keep]

    def _output(
        self,
        flat: torch.Tensor,
        meta: torch.Tensor,
        boxes: torch.Tensor,
        ids: torch.Tensor,
        threshold: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """O-Net: final boxes, scores, ids and landmarks (N,5,2)."""
        if boxes.shape[0] == 0:
            empty = self._empty()
            return (*empty, torch.zeros(0, 5, 2, device=self.device))
        offsets, marks, prob = self.onet(crop_and_resize(flat, meta, boxes, ids, 48))
        # Landmarks are relative to the O-Net input box (before its own calibration).
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = marks[:, :5] * w + boxes[:, 0:1] - 1
        ys = marks[:, 5:] * h + boxes[:, 1:2] - 1
        marks = torch.stack([xs, ys], dim=2)  # (N,5,2)
        boxes = apply_offsets(boxes, offsets)
        mask = prob > threshold
        boxes, prob, ids, marks = boxes[mask], prob[mask], ids[mask], marks[mask]
        keep = nms(boxes, prob, ids, 0.7, "min")
        return boxes[keep], prob[keep], ids[keep], marks[keep]

    def _empty(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(0, device=self.device)
        return zeros.reshape(0, 4), zeros, zeros.long()

    def _to_faces(self, found: list[Found], frame: np.ndarray, factor: float) -> list[FaceBox]:
        h, w = frame.shape[:2]
        faces = []
        for box, score, mark in found:
            # Clip the box to the frame as the reference does; landmarks stay as predicted.
            box = np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1]) / factor
            faces.append(
                FaceBox(
                    box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    score=score,
                    landmarks=tuple((float(x), float(y)) for x, y in mark / factor),
                )
            )
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces[: self.max_faces] if self.max_faces is not None else faces


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="+")
    parser.add_argument("--min-face", type=float, default=20.0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    detector = MTCNNDetector(min_face_size=args.min_face, device=args.device)
    faces = detector.detect([read_image(path) for path in args.images])
    print(
        json.dumps(
            {path: [asdict(f) for f in fs] for path, fs in zip(args.images, faces, strict=True)}
        )
    )


if __name__ == "__main__":
    main()
