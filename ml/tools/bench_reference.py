"""Times the reference `mtcnn` 1.0.0 (TensorFlow) on the detector benchmark's frame.

Runs in the throwaway TensorFlow virtualenv of ml/tools/make_mtcnn_fixture.py, so that our
detector and the reference can be timed on the same frame, on the same (shared) CPU, close
together in time:

    .venv/bin/python -m ml.bench_detector --json --save-frame /tmp/bench_frame.png
    /tmp/tfenv/bin/python ml/tools/bench_reference.py /tmp/bench_frame.png [--repeats 20]

Prints one JSON line: median and p90 ms per frame at the reference's default minimum face
(20 px). Imports nothing from `ml`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("frame")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, default=0, help="TF intra-op threads (0: TF default)"
    )
    args = parser.parse_args()
    import tensorflow as tf
    from mtcnn import MTCNN

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    rgb = np.asarray(Image.open(args.frame).convert("RGB"))
    detector = MTCNN()
    faces = detector.detect_faces(rgb)
    for _ in range(3):
        detector.detect_faces(rgb)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        detector.detect_faces(rgb)
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "reference": "mtcnn 1.0.0 / tensorflow " + tf.__version__,
                "frame": list(rgb.shape),
                "faces_found": len(faces),
                "min_face": 20,
                "ms_per_frame": round(statistics.median(times) * 1000, 2),
                "p90_ms": round(sorted(times)[int(0.9 * len(times))] * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
