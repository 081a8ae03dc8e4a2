"""How close our MTCNN is to the reference: the fixture's faces, matched and measured.

    python -m ml.tools.mtcnn_parity --json

Reads tests/ml/fixtures/mtcnn_reference.json (made by ml/tools/make_mtcnn_fixture.py with the
`mtcnn` 1.0.0 TensorFlow package) and prints per-frame face counts, the worst box IoU, the
worst landmark error (px) and the worst score difference. tests/ml/test_detector.py asserts
the thresholds (IoU >= 0.9, landmarks within 3 px); this prints the actual figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ml.detector import MTCNNDetector
from ml.preprocessing import read_image

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "ml" / "fixtures"


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def frame(name: str) -> np.ndarray:
    if name.startswith("noise:"):  # regenerated, as in the fixture script
        rng = np.random.default_rng(int(name.split(":")[1]))
        return rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    return read_image(str(FIXTURES / "mtcnn" / name))


def parity() -> dict:
    reference = json.loads((FIXTURES / "mtcnn_reference.json").read_text())["images"]
    detector = MTCNNDetector(device="cpu")
    frames, ious, errors, score_diffs = {}, [], [], []
    for name, expected in reference.items():
        found = detector(frame(name))
        frames[name] = {"reference_faces": len(expected), "our_faces": len(found)}
        for ref in expected:
            scored = [(iou(f.box, ref["box"]), f) for f in found]
            best = max(scored, key=lambda pair: pair[0])[1] if scored else None
            if best is None:
                ious.append(0.0)
                continue
            ious.append(iou(best.box, ref["box"]))
            errors.append(float(np.abs(np.asarray(best.landmarks) - ref["landmarks"]).max()))
            score_diffs.append(abs(best.score - ref["score"]))
    return {
        "benchmark": "mtcnn_parity",
        "frames": frames,
        "faces": len(ious),
        "min_iou": round(min(ious), 6),
        "max_landmark_error_px": round(max(errors), 6),
        "max_score_difference": round(max(score_diffs), 8),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args()
    print(json.dumps(parity(), indent=None if args.json else 2))
