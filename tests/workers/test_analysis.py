"""The claim protocol and the mood smoothing, without a worker (database only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.therapy import analysis
from backend.therapy.models import EMOTIONS, EmotionReading, Frame
from tests.backend.conftest import make_session

pytestmark = pytest.mark.django_db

LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Face:
    face_index: int = 0
    box: tuple[float, float, float, float] = (10.0, 20.0, 110.0, 140.0)
    landmarks: tuple[tuple[float, float], ...] = (
        (40, 60),
        (80, 60),
        (60, 80),
        (45, 110),
        (75, 110),
    )
    score: float = 0.99
    probabilities: dict[str, float] = field(
        default_factory=lambda: {e: (0.94 if e == "happy" else 0.01) for e in EMOTIONS}
    )
    emotion: str = "happy"
    confidence: float = 0.94
    valence: float = 0.8
    arousal: float = 0.3


def _frame(session, **kwargs) -> Frame:
    return Frame.objects.create(
        session=session, content_hash="0" * 64, width=640, height=480, **kwargs
    )


def test_a_queued_frame_is_claimed_once_and_a_second_claim_is_told_to_wait(patient):
    frame = _frame(make_session(patient))

    first = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    second = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)

    assert isinstance(first, analysis.Claim)
    assert isinstance(second, analysis.Held) and 55 < second.retry_after <= 62
    frame.refresh_from_db()
    assert (frame.status, frame.attempts) == ("processing", 1)


def test_a_claim_whose_lease_expired_is_taken_over_and_the_old_one_can_no_longer_write(patient):
    frame = _frame(make_session(patient))
    stale = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    Frame.objects.filter(pk=frame.pk).update(claimed_at=timezone.now() - 2 * LEASE)
    stale = analysis.Claim(**{**stale.__dict__, "token": timezone.now() - 2 * LEASE})

    fresh = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    assert analysis.record_result(claim=stale, faces=[Face()], model_version="m@1") is None
    assert analysis.record_result(claim=fresh, faces=[Face()], model_version="m@1") == "done"

    assert EmotionReading.objects.filter(frame=frame).count() == 1


def test_a_finished_frame_is_not_claimed_again(patient):
    frame = _frame(make_session(patient))
    claim = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    analysis.record_result(claim=claim, faces=[], model_version="m@1")

    assert analysis.claim_frame(frame_id=frame.pk, lease=timedelta(0)) is None
    assert Frame.objects.get(pk=frame.pk).status == "no_face"


def test_claim_queued_fills_a_batch_with_the_oldest_queued_frames_only(patient):
    session = make_session(patient)
    frames = [_frame(session) for _ in range(4)]
    _frame(session, status="done")

    claims = analysis.claim_queued(limit=3, lease=LEASE)

    assert [c.frame_id for c in claims] == [f.pk for f in frames[:3]]


def test_the_largest_face_is_primary_and_drives_the_session_mood(patient):
    session = make_session(patient)
    frame = _frame(session)
    claim = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    small = Face(face_index=1, valence=-0.9, emotion="sad")

    analysis.record_result(claim=claim, faces=[Face(), small], model_version="m@1")

    readings = list(frame.readings.order_by("face_index"))
    assert [(r.face_index, r.is_primary) for r in readings] == [(0, True), (1, False)]
    session.refresh_from_db()
    assert session.mood_valence == pytest.approx(0.8)
    assert session.mood_distribution["happy"] == pytest.approx(0.94)


def test_a_frame_that_keeps_killing_its_worker_fails_after_max_attempts(patient):
    frame = _frame(make_session(patient), attempts=analysis.MAX_ATTEMPTS)

    assert analysis.claim_frame(frame_id=frame.pk, lease=LEASE) is None

    frame.refresh_from_db()
    assert frame.status == "failed" and "gave up" in frame.error


def test_smoothed_mood_weighs_recent_readings_more_whatever_order_they_arrive_in():
    now = timezone.now()

    def reading(seconds_ago: float, valence: float) -> dict:
        probs = {f"p_{e}": 1 / 7 for e in EMOTIONS}
        return {
            "captured_at": now - timedelta(seconds=seconds_ago),
            "valence": valence,
            "arousal": 0.0,
            **probs,
        }

    old_sad, new_happy = reading(20, -1.0), reading(0, 1.0)
    mood = analysis.smoothed_mood([old_sad, new_happy])

    assert mood == analysis.smoothed_mood([new_happy, old_sad])
    assert 0.7 < mood["valence"] < 0.8  # weights 1 and e^-2
    assert analysis.smoothed_mood([reading(0, 0.2), reading(500, -1.0)])["valence"] == 0.2


def test_a_database_hiccup_hands_the_frame_back_and_the_retry_finishes_it(patient, monkeypatch):
    from django.db import OperationalError

    from workers import processing, tasks

    frame = _frame(make_session(patient))  # no stored image: the retry ends it as failed
    real_process, calls = processing.process, []

    def hiccup_once(claims, *, task_id, pipeline):
        calls.append([c.frame_id for c in claims])
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_process(claims, task_id=task_id, pipeline=pipeline)

    monkeypatch.setattr(processing, "process", hiccup_once)
    tasks.analyse_frame.apply(args=[frame.pk])  # eager: the retry runs at once

    frame.refresh_from_db()
    assert calls == [[frame.pk], [frame.pk]]
    assert (frame.status, frame.attempts) == ("failed", 1)
    assert frame.error.startswith("image missing")


def test_retention_keep_leaves_the_raw_image_in_place(patient, settings):
    settings.FRAME_RETENTION = "keep"
    frame = _frame(make_session(patient), image="frames/1/kept.jpg")
    claim = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)

    analysis.record_result(claim=claim, faces=[Face()], model_version="m@1")

    frame.refresh_from_db()
    assert frame.image.name == "frames/1/kept.jpg"
