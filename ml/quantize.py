"""int8 inference for the emotion classifier on CPUs (PyTorch FX post-training quantization).

    python -m ml.quantize --json      # calibrate ml/weights/emotion.pt -> emotion.int8.json

Static quantization needs the range of every activation, measured once on real faces
("calibration"). Those ranges are all the int8 model needs beyond the float checkpoint, so they
are stored beside it as a small JSON file (`<checkpoint>.int8.json`, bound to the checkpoint's
version string) instead of a second weights file: at load, the float model is prepared for
quantization again, the stored ranges are set on its observers and it is converted. Same file,
same ranges, same int8 model, on any machine, with no training data at run time.

Calibration: CALIBRATION_FACES faces of the FER-2013 *Training* split (seeded choice), through
the product's own preprocessing. PublicTest and PrivateTest are not used here; `ml.evaluate
--int8` reports what int8 scores on them.

On x86 the quantized convolutions run on FBGEMM/oneDNN kernels (AVX2 and up, VNNI when the CPU
has it). ml.numerics decides when the product uses int8 (ML_INT8).
"""

from __future__ import annotations

import argparse
import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.classifier import Preprocessing

CALIBRATION_FACES = 2048
ENGINE = "x86"
SIDECAR_FORMAT = "emotion-int8-ranges"


def sidecar_path(checkpoint: str | Path) -> Path:
    path = Path(checkpoint)
    return path.with_name(path.stem + ".int8.json")


def _qconfig_mapping() -> Any:
    """x86's defaults (per-channel int8 weights, 7-bit activations that cannot overflow on CPUs
    without VNNI) but min/max activation observers instead of histograms: then the stored
    (min, max) pairs alone determine the int8 model (a histogram observer's parameters come
    from its histogram, which would have to be stored too)."""
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import MinMaxObserver, default_per_channel_weight_observer

    activation = MinMaxObserver.with_args(dtype=torch.quint8, quant_min=0, quant_max=127)
    qconfig = QConfig(activation=activation, weight=default_per_channel_weight_observer)
    return get_default_qconfig_mapping(ENGINE).set_global(qconfig)


def _prepared(model: nn.Module, input_size: int) -> torch.fx.GraphModule:
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = ENGINE
    example = (torch.zeros(2, 1, input_size, input_size),)
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        float_model = copy.deepcopy(model).float().eval()
        float_model = float_model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return prepare_fx(float_model, _qconfig_mapping(), example)


def _observers(prepared: torch.fx.GraphModule) -> dict[str, Any]:
    from torch.ao.quantization.observer import ObserverBase

    return {
        name: module
        for name, module in prepared.named_modules()
        if isinstance(module, ObserverBase) and name.startswith("activation_post_process")
    }


def calibrate(
    model: nn.Module, pre: Preprocessing, faces: np.ndarray
) -> dict[str, tuple[float, float]]:
    """Activation ranges of `model` over (N, H, W) uint8 faces: {observer name: (min, max)}."""
    prepared = _prepared(model, pre.input_size)
    with torch.inference_mode():
        for start in range(0, len(faces), 256):
            chunk = np.ascontiguousarray(faces[start : start + 256])
            prepared(pre.normalise(torch.from_numpy(chunk)))
    ranges = {}
    for name, obs in _observers(prepared).items():
        ranges[name] = (float(obs.min_val), float(obs.max_val))
    return ranges


def quantized(
    model: nn.Module, pre: Preprocessing, ranges: dict[str, tuple[float, float]]
) -> torch.fx.GraphModule:
    """The int8 model: `model` prepared again, the stored ranges set, converted."""
    from torch.ao.quantization.quantize_fx import convert_fx

    prepared = _prepared(model, pre.input_size)
    observers = _observers(prepared)
    if set(observers) != set(ranges):
        raise ValueError(
            f"int8 ranges do not fit this model: stored {sorted(ranges)}, "
            f"needed {sorted(observers)}"
        )
    for name, obs in observers.items():
        low, high = ranges[name]
        obs.min_val = torch.tensor(float(low))
        obs.max_val = torch.tensor(float(high))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared).eval()


def write_sidecar(
    path: Path, *, version: str, ranges: dict[str, tuple[float, float]], calibration: str
) -> None:
    body = {
        "format": SIDECAR_FORMAT,
        "checkpoint_version": version,
        "engine": ENGINE,
        "calibration": calibration,
        # Exact: an observer's float32 range as a Python float prints in JSON as the shortest
        # text that reads back to the same value. Rounded to 6 decimals, a scale came back a
        # few ulps off and the rebuilt model differed in its last bits on an AVX-512 CPU.
        "ranges": {k: [float(v[0]), float(v[1])] for k, v in sorted(ranges.items())},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    tmp.replace(path)


def read_sidecar(path: Path, version: str) -> dict[str, tuple[float, float]]:
    """The ranges for checkpoint `version`; a missing, foreign or stale file is an error."""
    if not path.is_file():
        raise FileNotFoundError(f"int8 ranges not found: {path} (python -m ml.quantize)")
    body = json.loads(path.read_text())
    if body.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{path} is not an int8 ranges file")
    if body.get("checkpoint_version") != version:
        raise ValueError(
            f"{path} was calibrated for {body.get('checkpoint_version')}, not {version}: "
            "run python -m ml.quantize again"
        )
    return {k: (float(v[0]), float(v[1])) for k, v in body["ranges"].items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ml.checkpoint import DEFAULT_CHECKPOINT, load_classifier
    from ml.data import load_npz

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    ap.add_argument("--data", help="fer2013.npz (default $FER2013_NPZ or ../shared)")
    ap.add_argument("--faces", type=int, default=CALIBRATION_FACES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output too)")
    args = ap.parse_args(argv)
    clf = load_classifier(args.checkpoint, "cpu", bf16=False)
    train = load_npz(args.data)["train"]
    idx = np.random.default_rng(args.seed).choice(len(train), args.faces, replace=False)
    ranges = calibrate(clf.model, clf.preprocessing, train.images[np.sort(idx)])
    out = sidecar_path(args.checkpoint)
    calibration = f"{args.faces} FER-2013 Training faces, numpy default_rng({args.seed}).choice"
    write_sidecar(out, version=clf.version, ranges=ranges, calibration=calibration)
    result = {"sidecar": str(out), "checkpoint_version": clf.version, "observers": len(ranges)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
