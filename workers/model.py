"""One EmotionPipeline per worker process, loaded once (at process start, or on first use).

Device and checkpoint come from settings (ML_DEVICE: auto = CUDA when present).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

from workers import config

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pipeline: Any = None


def get_pipeline() -> Any:
    global _pipeline
    if _pipeline is None:
        with _lock:
            if _pipeline is None:
                import torch

                from ml import EmotionPipeline
                from ml.pipeline import retry_views

                torch.set_num_threads(config.TORCH_THREADS)
                started = time.perf_counter()
                _pipeline = EmotionPipeline.from_checkpoint(
                    settings.ML_CHECKPOINT,
                    device=settings.ML_DEVICE,
                    min_face_size=config.MIN_FACE_SIZE,
                    retry_views=retry_views(config.RETRY),
                )
                logger.info(
                    "pipeline loaded device=%s threads=%d model_version=%s seconds=%.1f",
                    _pipeline.device,
                    torch.get_num_threads(),
                    _pipeline.model_version,
                    time.perf_counter() - started,
                )
    return _pipeline


def batch_size() -> int:
    """WORKER_BATCH_SIZE, or the device's default when it is 0 (auto)."""
    if config.BATCH_SIZE:
        return config.BATCH_SIZE
    device = str(get_pipeline().device).split(":")[0]
    return config.AUTO_BATCH.get(device, 1)
