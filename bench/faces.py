"""Test images for the load benchmarks: one-face frames the worker can read."""

from __future__ import annotations

SAMPLES = ("happy_0", "angry_0", "neutral_0", "surprise_0", "sad_1", "fear_0", "disgust_0")


def face_frames() -> list[bytes]:
    """640x480 one-face JPEGs (FER-2013 samples upscaled onto a plain background)."""
    from tests.workers.support import face_jpeg

    return [face_jpeg(f"{name}.jpg") for name in SAMPLES]
