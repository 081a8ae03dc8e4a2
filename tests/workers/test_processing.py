"""workers.processing.process with a fake pipeline (no model): one bad frame does not sink
its batch, and every frame of the batch ends final exactly once."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from backend.therapy import analysis
from backend.therapy.models import EmotionReading, Frame
from ml.emotions import EMOTIONS
from ml.pipeline import FaceEmotion
from tests.backend.conftest import make_session
from workers import processing

pytestmark = pytest.mark.django_db
LEASE = timedelta(seconds=60)
POISON_WIDTH = 50  # the fake pipeline chokes on images this wide


def _jpeg(width: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, 48), (120, 80, 40)).save(out, format="JPEG")
    return out.getvalue()


class FakePipeline:
    model_version = "fake@0"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, images: list[np.ndarray]) -> list[list[FaceEmotion]]:
        self.calls.append(len(images))
        if any(image.shape[1] == POISON_WIDTH for image in images):
            raise ValueError("this image breaks the model")
        probabilities = {e: (0.4 if e == "happy" else 0.1) for e in EMOTIONS}
        face = FaceEmotion(
            face_index=0,
            box=(1.0, 1.0, 20.0, 20.0),
            landmarks=((5.0, 5.0),) * 5,
            score=0.99,
            probabilities=probabilities,
            emotion="happy",
            confidence=0.4,
            valence=0.5,
            arousal=0.2,
        )
        return [[face] for _ in images]


def test_one_bad_frame_fails_alone_and_the_rest_of_the_batch_is_recorded(patient, media_root):
    session = make_session(patient)
    frames = []
    for width in (64, POISON_WIDTH, 80):
        name = default_storage.save(f"frames/{session.pk}/{width}.jpg", ContentFile(_jpeg(width)))
        frames.append(
            Frame.objects.create(
                session=session, image=name, content_hash="0" * 64, width=width, height=48
            )
        )
    claims = [analysis.claim_frame(frame_id=f.pk, lease=LEASE) for f in frames]
    pipeline = FakePipeline()

    counts = processing.process(claims, task_id="t-1", pipeline=pipeline)  # type: ignore[arg-type]

    assert counts == {"done": 2, "failed": 1}
    assert pipeline.calls == [3, 1, 1, 1]  # the batch, then each frame alone
    statuses = dict(Frame.objects.values_list("width", "status"))
    assert statuses == {64: "done", POISON_WIDTH: "failed", 80: "done"}
    assert "this image breaks the model" in Frame.objects.get(width=POISON_WIDTH).error
    assert EmotionReading.objects.count() == 2
