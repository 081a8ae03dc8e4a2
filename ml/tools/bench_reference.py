"""Times the reference packages in their own TensorFlow virtualenv (never the project's).

`python -m ml.tools.compare_reference` runs this script with the reference venv's Python
(`make reference-venv` builds it) and compares its figures with ours in the same run. By hand:

    .venv-reference/bin/python ml/tools/bench_reference.py detector /tmp/frame.png --threads 1
    .venv-reference/bin/python ml/tools/bench_reference.py classifier --threads 2

detector: the `mtcnn` 1.0.0 package's `detect_faces` on a saved frame, at its default minimum
face (20 px). classifier: the `fer` package's emotion model on 64x64 gray faces at batch 1 and
256, both as the package ships it (its quantised TFLite model, which `FER()` loads by default and
runs one face at a time) and its Keras model (`FER(use_tflite=False)`, batched). Preprocessing is
done beforehand and not timed, on this side only. Prints one JSON line. Imports nothing from `ml`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np


def _timed(fn: Callable[[], Any], repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p90_ms": round(sorted(times)[int(0.9 * len(times))] * 1000, 3),
    }


def detector(frame_path: str, repeats: int) -> dict[str, Any]:
    from mtcnn import MTCNN
    from PIL import Image

    rgb = np.asarray(Image.open(frame_path).convert("RGB"))
    model = MTCNN()
    faces = model.detect_faces(rgb)
    times = _timed(lambda: model.detect_faces(rgb), repeats, warmup=3)
    return {
        "package": "mtcnn 1.0.0",
        "frame": list(rgb.shape),
        "faces_found": len(faces),
        "min_face": 20,
        **_summary(times),
    }


def classifier(repeats: int) -> dict[str, Any]:
    from fer.fer import FER

    rng = np.random.default_rng(0)
    faces = ((rng.integers(0, 256, (256, 64, 64)).astype(np.float32) / 255.0) - 0.5) * 2.0
    out: dict[str, Any] = {"package": "fer 25.10.3"}
    for name, model in (("tflite", FER()), ("keras", FER(use_tflite=False))):
        classify = model._classify_emotions  # what FER.detect_emotions calls on the face crops
        if np.asarray(classify(faces[:2])).shape != (2, 7):
            raise RuntimeError(f"fer {name} model did not return 7 scores per face")
        one = _timed(partial(classify, faces[:1]), repeats * 5, warmup=20)
        many = _timed(partial(classify, faces), repeats, warmup=3)
        out[name] = {
            "batch_1_ms": _summary(one)["median_ms"],
            "batch_1_p90_ms": _summary(one)["p90_ms"],
            "batch_256_images_per_s": round(256 / statistics.median(many), 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["detector", "classifier"])
    parser.add_argument("frame", nargs="?", help="PNG frame (detector)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, required=True, help="TF intra-op threads")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.what == "detector":
        if not args.frame:
            parser.error("detector needs the frame")
        result = detector(args.frame, args.repeats)
    else:
        result = classifier(args.repeats)
    result.update({"tensorflow": tf.__version__, "threads": args.threads})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
