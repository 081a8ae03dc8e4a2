"""One batch of claimed frames through the pipeline, results written through the backend.

Permanent problems end the frame as `failed` with a reason (consent withdrawn, missing or
undecodable image, an error inside the pipeline for that frame) and the batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.utils import timezone

from backend.common import metrics
from backend.common.faults import fault_point
from backend.therapy import analysis
from ml.preprocessing import decode_image

logger = logging.getLogger(__name__)


def _load(claim: analysis.Claim) -> np.ndarray | None:
    """The frame's pixels, or None after failing the frame for a permanent reason."""
    if not claim.consented:  # to the notice in force (a new version stops analysis until renewed)
        analysis.fail_frame(claim=claim, reason="consent withdrawn", delete_image=True)
        return None
    try:
        return decode_image(analysis.read_image(claim=claim))
    except FileNotFoundError as exc:
        analysis.fail_frame(claim=claim, reason=f"image missing: {exc}")
    except ValueError as exc:
        analysis.fail_frame(claim=claim, reason=f"undecodable image: {exc}")
    return None


def _run(pipeline: object, images: list[np.ndarray]) -> list[list | BaseException]:
    """Faces per frame; a batch that raises is retried frame by frame to isolate the culprit."""
    try:
        fault_point("hang_in_analysis")  # the fault tests' stuck model call
        return list(pipeline(images))  # type: ignore[operator]
    except Exception:
        if len(images) == 1:
            raise
    results: list[list | BaseException] = []
    for image in images:
        try:
            results.append(pipeline([image])[0])  # type: ignore[operator]
        except Exception as exc:
            results.append(exc)
    return results


def process(claims: Sequence[analysis.Claim], *, task_id: str, pipeline: Any) -> dict[str, int]:
    """Analyse the claimed frames with `pipeline` (an ml.EmotionPipeline, or any callable of
    a list of images to a list of face lists with a `model_version`) and record the results."""
    started = time.perf_counter()
    ready: list[analysis.Claim] = []
    images: list[np.ndarray] = []
    outcomes: list[tuple[str, float]] = []
    for claim in claims:
        image = _load(claim)
        if image is None:
            outcomes.append(("failed", _latency(claim)))
        else:
            ready.append(claim)
            images.append(image)
    results: list[list | BaseException] = []
    loaded = time.perf_counter()
    if images:
        try:
            results = _run(pipeline, images)
        except Exception as exc:
            results = [exc]
    analysed = time.perf_counter()
    for claim, faces in zip(ready, results, strict=True):
        if isinstance(faces, BaseException):
            reason = f"analysis error: {type(faces).__name__}: {faces}"
            analysis.fail_frame(claim=claim, reason=reason[:500])
            outcomes.append(("failed", _latency(claim)))
            continue
        status = analysis.record_result(
            claim=claim, faces=faces, model_version=pipeline.model_version
        )
        if status is not None:
            outcomes.append((status, _latency(claim)))
        logger.info(
            "frame analysed frame_id=%s task_id=%s status=%s faces=%d batch=%d "
            "load_ms=%.0f pipeline_ms=%.0f write_ms=%.0f",
            claim.frame_id,
            task_id,
            status,
            len(faces),
            len(claims),
            1000 * (loaded - started),
            1000 * (analysed - loaded),
            1000 * (time.perf_counter() - analysed),
        )
    metrics.record_frames(outcomes, batch_seconds=time.perf_counter() - started)
    counts: dict[str, int] = {}
    for status, _ in outcomes:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _latency(claim: analysis.Claim) -> float:
    return (timezone.now() - claim.uploaded_at).total_seconds()
