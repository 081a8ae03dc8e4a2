"""Our classifier and detector against the reference packages, on the same CPU, in one run.

    make reference-venv        # once: .venv-reference with TensorFlow, `fer` and `mtcnn`, pinned
    python -m ml.tools.compare_reference --json [--reference-python .venv-reference/bin/python]

Each round times, back to back: the `fer` package's emotion model (ml/tools/bench_reference.py
in the reference venv; its shipped TFLite model and its Keras model) and ours
(`load_classifier(...).predict_proba`: the product's default numeric path, and the int8 model
of ml.quantize), all on 2 threads at batch 1
and batch 256; then the `mtcnn` package and our MTCNNDetector on the detector benchmark's
640x480 frame (ml.bench_detector.test_frame) on 1 thread. Rounds alternate the two sides so
that a change in machine load hits both. Prints one JSON line: each round's figures, the
ratios from the median over rounds, and which targets of issue 15 they meet (classifier >= 1.5x
the faster of fer's two models at batch 1 and at batch 256; detector <= 1/8 of mtcnn's time at
min face 20 and <= 15 ms at min face 60). A measurement tool; no test asserts on its numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import cv2
import torch

from ml.bench_detector import detector_on, test_frame
from ml.benchmark import classifier_on
from ml.checkpoint import DEFAULT_CHECKPOINT
from ml.runinfo import ROOT, environment

REFERENCE_SCRIPT = ROOT / "ml" / "tools" / "bench_reference.py"
DEFAULT_REFERENCE_PYTHON = ROOT / ".venv-reference" / "bin" / "python"
CLF_B1 = "classifier_batch_1_speedup_vs_faster_fer"
CLF_B256 = "classifier_batch_256_speedup_vs_faster_fer"
DET_20 = "detector_min_face_20_speedup_vs_mtcnn"


def reference(python: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(REFERENCE_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reference benchmark failed ({done.returncode}): {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def one_round(python: Path, frame_png: str, args: argparse.Namespace) -> dict[str, Any]:
    cpu = torch.device("cpu")
    repeats = str(args.repeats)
    fer = reference(python, "classifier", "--threads", "2", "--repeats", repeats)
    torch.set_num_threads(2)
    ours_clf = classifier_on(cpu, args)
    ours_int8 = classifier_on(cpu, args, int8=True)
    mtcnn = reference(python, "detector", frame_png, "--threads", "1", "--repeats", repeats)
    torch.set_num_threads(1)
    ours_det = detector_on(cpu, test_frame(), args.repeats)
    return {
        "fer": fer,
        "ours_classifier": ours_clf,
        "ours_classifier_int8": ours_int8,
        "mtcnn": mtcnn,
        "ours_detector": ours_det,
    }


def _median(rounds: list[dict[str, Any]], *path: str) -> float:
    values = []
    for r in rounds:
        value: Any = r
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    fer_b1 = min(_median(rounds, "fer", m, "batch_1_ms") for m in ("tflite", "keras"))
    fer_b256 = max(_median(rounds, "fer", m, "batch_256_images_per_s") for m in ("tflite", "keras"))
    # the product's default path, and the int8 model (ML_INT8=on)
    ours_b1 = _median(rounds, "ours_classifier", "batch_1_ms")
    ours_b256 = _median(rounds, "ours_classifier", "batch_256_images_per_s")
    int8_b1 = _median(rounds, "ours_classifier_int8", "batch_1_ms")
    int8_b256 = _median(rounds, "ours_classifier_int8", "batch_256_images_per_s")
    keras_b1 = _median(rounds, "fer", "keras", "batch_1_ms")
    keras_b256 = _median(rounds, "fer", "keras", "batch_256_images_per_s")
    mtcnn_20 = _median(rounds, "mtcnn", "median_ms")
    ours_20 = _median(rounds, "ours_detector", "min_face_20", "ms_per_frame")
    ours_60 = _median(rounds, "ours_detector", "min_face_60", "ms_per_frame")
    ratios = {
        CLF_B1: round(fer_b1 / ours_b1, 2),
        CLF_B256: round(ours_b256 / fer_b256, 2),
        DET_20: round(mtcnn_20 / ours_20, 2),
        "int8_batch_1_speedup_vs_faster_fer": round(fer_b1 / int8_b1, 2),
        "int8_batch_256_speedup_vs_faster_fer": round(int8_b256 / fer_b256, 2),
        "batch_1_speedup_vs_fer_keras": round(keras_b1 / ours_b1, 2),
        "batch_256_speedup_vs_fer_keras": round(ours_b256 / keras_b256, 2),
        "int8_batch_1_speedup_vs_fer_keras": round(keras_b1 / int8_b1, 2),
        "int8_batch_256_speedup_vs_fer_keras": round(int8_b256 / keras_b256, 2),
    }
    return {
        "medians": {
            "fer_fastest_batch_1_ms": fer_b1,
            "fer_fastest_batch_256_images_per_s": fer_b256,
            "ours_batch_1_ms": ours_b1,
            "ours_batch_256_images_per_s": ours_b256,
            "ours_int8_batch_1_ms": int8_b1,
            "ours_int8_batch_256_images_per_s": int8_b256,
            "mtcnn_min_face_20_ms": mtcnn_20,
            "ours_min_face_20_ms": ours_20,
            "ours_min_face_60_ms": ours_60,
        },
        "ratios": ratios,
        "targets_met": {
            "classifier_batch_1_1.5x_fer": ratios[CLF_B1] >= 1.5,
            "classifier_batch_256_1.5x_fer": ratios[CLF_B256] >= 1.5,
            "int8_batch_1_1.5x_fer": ratios["int8_batch_1_speedup_vs_faster_fer"] >= 1.5,
            "int8_batch_256_1.5x_fer": ratios["int8_batch_256_speedup_vs_faster_fer"] >= 1.5,
            "detector_min_face_20_at_most_1/8_of_mtcnn": ratios[DET_20] >= 8,
            "detector_min_face_60_at_most_15_ms": ours_60 <= 15,
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reference-python", type=Path, default=DEFAULT_REFERENCE_PYTHON)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output too)")
    args = ap.parse_args(argv)
    if not args.reference_python.exists():
        raise SystemExit(f"{args.reference_python} not found: run `make reference-venv` first")
    with tempfile.TemporaryDirectory() as tmp:
        frame_png = str(Path(tmp) / "frame.png")
        cv2.imwrite(frame_png, cv2.cvtColor(test_frame(), cv2.COLOR_RGB2BGR))
        rounds = [one_round(args.reference_python, frame_png, args) for _ in range(args.rounds)]
    result = {"benchmark": "compare_reference", **environment(), **summarise(rounds)}
    result["rounds"] = rounds
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
