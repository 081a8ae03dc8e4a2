"""Pure PyTorch/OpenCV/numpy emotion recognition. Never imports django, celery, backend or workers.

`EmotionPipeline` and `FaceEmotion` (ml/pipeline.py) are imported lazily so that
`import ml` stays cheap (no torch) for code that needs only the labels.
"""

from typing import Any

from ml.emotions import CIRCUMPLEX, EMOTIONS, valence_arousal

__all__ = ["CIRCUMPLEX", "EMOTIONS", "EmotionPipeline", "FaceEmotion", "valence_arousal"]


def __getattr__(name: str) -> Any:
    if name in ("EmotionPipeline", "FaceEmotion"):
        from ml import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ml' has no attribute {name!r}")
