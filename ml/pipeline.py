"""Frames in, emotions out: MTCNN faces -> aligned 48x48 gray crops -> CNN -> FaceEmotion.

    from ml import EmotionPipeline
    from ml.preprocessing import decode_image
    pipeline = EmotionPipeline.from_checkpoint()            # ml/weights/emotion.pt, CUDA if present
    faces_per_frame = pipeline([decode_image(jpeg_bytes)])  # list (per frame) of lists of faces
    largest = faces_per_frame[0][0] if faces_per_frame[0] else None

    python -m ml.pipeline IMAGE [IMAGE ...] [--checkpoint PATH] [--device auto]   # prints JSON

Frames are RGB uint8 (H,W,3); gray (H,W)/(H,W,1) and RGBA are accepted. A frame without a face
gives an empty list. Faces are sorted largest first (the product reads a patient's mood from
the largest face). All faces of all frames go through the classifier as one batch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.checkpoint import DEFAULT_CHECKPOINT, LoadedClassifier, load_classifier
from ml.detector import FaceBox, MTCNNDetector, resolve_device
from ml.emotions import EMOTIONS, valence_arousal
from ml.preprocessing import align_face, ensure_rgb, read_image

# Frames without a face found upright are retried in these views, (degrees, mirrored): turned
# for heads rolled past MTCNN's ~30 degrees, mirrored because the cascade is not left-right
# symmetric. On `python -m ml.consistency` (PublicTest, where this was chosen): detection 88.2%
# plain, 90.8% with the four turned views, 92.8% with all nine; see ml/DETECTOR.md.
RETRY_VIEWS: tuple[tuple[float, bool], ...] = (
    (-20.0, False),
    (20.0, False),
    (-40.0, False),
    (40.0, False),
    (0.0, True),
    (-20.0, True),
    (20.0, True),
    (-40.0, True),
    (40.0, True),
)
RETRY_CHOICES = ("all", "turned", "off")


def retry_views(choice: str) -> tuple[tuple[float, bool], ...]:
    """The retry views a setting names: `all` (RETRY_VIEWS), `turned` (the unmirrored ones),
    `off` (none)."""
    if choice not in RETRY_CHOICES:
        raise ValueError(f"retry must be one of {RETRY_CHOICES}, not {choice!r}")
    if choice == "off":
        return ()
    return RETRY_VIEWS if choice == "all" else tuple(v for v in RETRY_VIEWS if not v[1])


@dataclass(frozen=True)
class FaceEmotion:
    """One face of one frame and what the classifier read in it.

    box: x1, y1, x2, y2 in frame pixels; landmarks: 5 (x, y) points (left eye, right eye, nose,
    mouth left, mouth right, left/right as seen in the image); score: detection confidence;
    probabilities: label -> calibrated probability for the 7 EMOTIONS; emotion/confidence: the
    top label and its probability; valence/arousal: from ml.emotions.valence_arousal;
    face_index: position in the frame's list (0 = largest face).
    """

    face_index: int
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    score: float
    probabilities: Mapping[str, float]
    emotion: str
    confidence: float
    valence: float
    arousal: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists instead of tuples)."""
        d = asdict(self)
        d["box"], d["landmarks"] = list(self.box), [list(p) for p in self.landmarks]
        d["probabilities"] = dict(self.probabilities)
        return d


class EmotionPipeline:
    """Detector + aligner + classifier. Load once per process; call with a list of frames."""

    def __init__(self, detector: MTCNNDetector, classifier: LoadedClassifier) -> None:
        if tuple(classifier.labels) != EMOTIONS:
            raise ValueError(f"classifier labels {classifier.labels} differ from {EMOTIONS}")
        self.detector = detector
        self.classifier = classifier

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path = DEFAULT_CHECKPOINT,
        device: str = "auto",
        **detector_params: Any,
    ) -> EmotionPipeline:
        """Pipeline on `device` ('auto': CUDA when present, else CPU).

        detector_params go to MTCNNDetector: min_face_size, thresholds, scale_factor, max_faces,
        max_side, retry_views (default RETRY_VIEWS; () turns the retry off), retry_min_score,
        retry_scale_factor, retry_thresholds.
        """
        detector_params.setdefault("retry_views", RETRY_VIEWS)
        torch_device = resolve_device(device)
        detector = MTCNNDetector(device=torch_device, **detector_params)
        return cls(detector, load_classifier(path, device=torch_device))

    @property
    def model_version(self) -> str:
        """The classifier's version string (checkpoint name + file hash), stored with readings."""
        return self.classifier.version

    @property
    def device(self) -> str:
        return str(self.detector.device)

    def __call__(self, images: Sequence[np.ndarray]) -> list[list[FaceEmotion]]:
        if isinstance(images, np.ndarray) and images.ndim != 4:
            # One (H,W,3) frame would otherwise be read as H frames of one row each.
            raise TypeError("pass a list of frames (or an (N,H,W,C) array), not a single frame")
        frames = [ensure_rgb(image) for image in images]
        if not frames:
            return []
        detections = self.detector.detect(frames)
        crops, owners = self.crops(frames, detections)
        if not crops:
            return [[] for _ in frames]
        probs = self.classifier.predict_proba(np.stack(crops))  # (N,7), one batch for all faces
        result: list[list[FaceEmotion]] = [[] for _ in frames]
        for p, (i, face) in zip(probs, owners, strict=True):
            result[i].append(_face_emotion(len(result[i]), face, p))
        return result

    def crops(
        self, frames: Sequence[np.ndarray], detections: Sequence[Sequence[FaceBox]]
    ) -> tuple[list[np.ndarray], list[tuple[int, FaceBox]]]:
        """Aligned classifier inputs (size x size uint8) for every face, with (frame, face)."""
        size = self.classifier.input_size
        crops, owners = [], []
        for i, (frame, faces) in enumerate(zip(frames, detections, strict=True)):
            for face in faces:
                crops.append(align_face(frame, face.landmarks, face.box, size))
                owners.append((i, face))
        return crops, owners


def _face_emotion(index: int, face: FaceBox, probs: np.ndarray) -> FaceEmotion:
    values = [float(p) for p in probs]
    top = int(np.argmax(probs))
    valence, arousal = valence_arousal(values)
    return FaceEmotion(
        face_index=index,
        box=face.box,
        landmarks=face.landmarks,
        score=face.score,
        probabilities=dict(zip(EMOTIONS, values, strict=True)),
        emotion=EMOTIONS[top],
        confidence=values[top],
        valence=valence,
        arousal=arousal,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="+")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    pipeline = EmotionPipeline.from_checkpoint(args.checkpoint, device=args.device)
    results = pipeline([read_image(path) for path in args.images])
    out = {
        path: [f.to_dict() for f in faces] for path, faces in zip(args.images, results, strict=True)
    }
    print(json.dumps({"model_version": pipeline.model_version, "frames": out}))


if __name__ == "__main__":
    main()
