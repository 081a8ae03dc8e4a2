"""Speed of face detection and of the whole frame pipeline. A section of `python -m ml.benchmark`.

    python -m ml.benchmark --json --only detector --only pipeline [--threads 2]
    python -m ml.bench_detector --json [--threads 1] [--save-frame /tmp/frame.png]

The test frame is 640x480 with one FER-2013 sample face upscaled to 160 px on the photo-like
texture of ml/consistency.py (seeded). "detector": MTCNNDetector ms per frame at minimum face
20, 40 and 60 px (the reference mtcnn/TensorFlow needs a median 262 ms at 20 px on this machine).
"pipeline": frames/s of decode (JPEG bytes) + detect + align + classify, one frame per call
and 16 per call, and for a frame with no face (the same texture), where the pipeline's retry
views run, with and without that retry. CPU always, CUDA too when present. Medians after
warm-up; this is a measurement tool and no test asserts on its numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial
from typing import Any

import cv2
import numpy as np
import torch

from ml.checkpoint import DEFAULT_CHECKPOINT
from ml.consistency import background
from ml.data import default_sample_dir
from ml.detector import MTCNNDetector
from ml.pipeline import EmotionPipeline
from ml.preprocessing import decode_image
from ml.runinfo import environment
from ml.timing import timed

BATCH = 16
SAMPLE = "happy_3"


def test_frame() -> np.ndarray:
    """640x480 RGB, one 160 px face at (240, 120) on a seeded texture."""
    frame = background("texture", np.random.default_rng(0))
    face = cv2.imread(str(default_sample_dir() / f"{SAMPLE}.jpg"), cv2.IMREAD_GRAYSCALE)
    if face is None:
        raise FileNotFoundError(f"sample face {SAMPLE}.jpg not in {default_sample_dir()}")
    frame[120:280, 240:400] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)[
        :, :, None
    ]
    return frame


def detector_on(device: torch.device, frame: np.ndarray, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for min_face in (20, 40, 60):
        detector = MTCNNDetector(min_face_size=min_face, device=device)
        faces = detector(frame)
        times = timed(partial(detector, frame), device, repeats, warmup=3)
        batched = timed(
            partial(detector.detect, [frame] * BATCH), device, max(3, repeats // 4), warmup=1
        )
        out[f"min_face_{min_face}"] = {
            "faces_found": len(faces),
            "ms_per_frame": round(statistics.median(times) * 1000, 2),
            "p90_ms": round(sorted(times)[int(0.9 * len(times))] * 1000, 2),
            f"batch_{BATCH}_ms_per_frame": round(statistics.median(batched) * 1000 / BATCH, 2),
        }
    return out


def _jpeg(frame: np.ndarray) -> bytes:
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    assert ok
    return jpeg.tobytes()


def pipeline_on(
    device: torch.device, frame: np.ndarray, checkpoint: str, repeats: int
) -> dict[str, Any]:
    data = _jpeg(frame)
    empty = _jpeg(background("texture", np.random.default_rng(0)))  # test_frame without its face
    out: dict[str, Any] = {}
    for min_face in (20, 40, 60):
        pipeline = EmotionPipeline.from_checkpoint(
            checkpoint, device=str(device), min_face_size=min_face
        )
        plain = EmotionPipeline(
            MTCNNDetector(min_face_size=min_face, device=device), pipeline.classifier
        )

        def run(n: int, p: EmotionPipeline = pipeline, jpeg: bytes = data) -> list:
            return p([decode_image(jpeg) for _ in range(n)])

        faces = run(1)[0]
        one = timed(partial(run, 1), device, repeats, warmup=3)
        many = timed(partial(run, BATCH), device, max(3, repeats // 4), warmup=1)
        faceless = timed(partial(run, 1, jpeg=empty), device, max(3, repeats // 2), warmup=1)
        no_retry = timed(partial(run, 1, plain, empty), device, max(3, repeats // 2), warmup=1)
        out[f"min_face_{min_face}"] = {
            "faces_found": len(faces),
            "emotion": faces[0].emotion if faces else None,
            "unbatched_frames_per_s": round(1 / statistics.median(one), 1),
            f"batch_{BATCH}_frames_per_s": round(BATCH / statistics.median(many), 1),
            "faceless_frames_per_s": round(1 / statistics.median(faceless), 1),
            "faceless_no_retry_frames_per_s": round(1 / statistics.median(no_retry), 1),
        }
    out["model_version"] = pipeline.model_version
    return out


def devices() -> list[torch.device]:
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def detector_section(args: argparse.Namespace) -> dict[str, Any]:
    """MTCNN ms per 640x480 frame with one face, min face 20 and 40 px."""
    frame = test_frame()
    return {d.type: detector_on(d, frame, args.repeats) for d in devices()}


def pipeline_section(args: argparse.Namespace) -> dict[str, Any]:
    """decode + detect + align + classify frames/s, unbatched and batched."""
    frame = test_frame()
    return {d.type: pipeline_on(d, frame, str(args.checkpoint), args.repeats) for d in devices()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON line (the default output too)"
    )
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--save-frame", help="also write the test frame here (PNG), for the reference"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.save_frame:
        cv2.imwrite(args.save_frame, cv2.cvtColor(test_frame(), cv2.COLOR_RGB2BGR))
    result = {
        "device": "cuda+cpu" if torch.cuda.is_available() else "cpu",
        **environment(),
        "detector": detector_section(args),
        "pipeline": pipeline_section(args),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
