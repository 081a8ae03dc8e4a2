"""Mood history written straight to the database, for pages that show past sessions."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from backend.therapy.models import EMOTIONS, EmotionReading, Frame, MoodCheckIn, TherapySession


def past_session(
    patient: Any,
    *,
    days_ago: int,
    valence: float,
    arousal: float,
    emotion: str = "happy",
    readings: int = 6,
    goal: str = "calm",
) -> TherapySession:
    """An ended 10-minute session with primary-face readings drifting towards (valence, arousal)
    and before/after check-ins."""
    start = timezone.now() - timedelta(days=days_ago, minutes=30)
    session = TherapySession.objects.create(
        patient=patient,
        goal=goal,
        started_at=start,
        ended_at=start + timedelta(minutes=10),
        mood_valence=valence,
        mood_arousal=arousal,
        mood_updated_at=start + timedelta(minutes=10),
    )
    for i in range(readings):
        at = start + timedelta(seconds=30 + 90 * i)
        frame = Frame.objects.create(
            session=session,
            captured_at=at,
            content_hash="0" * 64,
            width=640,
            height=480,
            status="done",
        )
        probs = {f"p_{e}": (0.7 if e == emotion else 0.05) for e in EMOTIONS}
        step = (i + 1) / readings
        EmotionReading.objects.create(
            frame=frame,
            session=session,
            patient=patient,
            captured_at=at,
            face_index=0,
            is_primary=True,
            box_x1=220,
            box_y1=140,
            box_x2=420,
            box_y2=340,
            landmarks=[[280, 210], [360, 210], [320, 250], [290, 300], [350, 300]],
            detection_score=0.99,
            emotion=emotion,
            confidence=0.7,
            valence=round(valence * step, 3),
            arousal=round(arousal * step, 3),
            model_version="seed@0",
            **probs,
        )
    for phase, v, word in (("before", valence - 0.3, "tense"), ("after", valence + 0.1, "lighter")):
        checkin = MoodCheckIn.objects.create(
            patient=patient,
            session=session,
            phase=phase,
            valence=max(-1, min(1, v)),
            arousal=0.0,
            word=word,
        )
        MoodCheckIn.objects.filter(pk=checkin.pk).update(
            created_at=start if phase == "before" else session.ended_at
        )
    return session


def make_reading(session: TherapySession, *, emotion: str, valence: float, arousal: float) -> Any:
    """One analysed frame with its primary-face reading, as the worker would record it."""
    frame = Frame.objects.create(
        session=session, content_hash="1" * 64, width=640, height=480, status="done"
    )
    probs = {f"p_{e}": (0.7 if e == emotion else 0.05) for e in EMOTIONS}
    return EmotionReading.objects.create(
        frame=frame,
        session=session,
        patient=session.patient,
        captured_at=frame.captured_at,
        face_index=0,
        is_primary=True,
        box_x1=220,
        box_y1=140,
        box_x2=420,
        box_y2=340,
        landmarks=[[280, 210], [360, 210], [320, 250], [290, 300], [350, 300]],
        detection_score=0.99,
        emotion=emotion,
        confidence=0.7,
        valence=valence,
        arousal=arousal,
        model_version="seed@0",
        **probs,
    )


def songs_csv_text(shared_data: Path, rows: int, extra: list[dict[str, str]] = ()) -> str:
    """The first `rows` rows of the shared Spotify songs file (plus `extra` rows) as CSV."""
    source = shared_data / "songs" / "spotify_songs.csv.gz"
    if not source.exists():
        pytest.skip(f"{source} not found (set SHARED_DATA_DIR)")
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        picked = [row for _, row in zip(range(rows), reader, strict=False)]
        fields = reader.fieldnames or []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows([*picked, *[{**picked[0], **e} for e in extra]])
    return out.getvalue()


def import_songs(shared_data: Path, rows: int = 300) -> int:
    """Fill the catalogue through the catalogue's own import service; returns tracks created."""
    from backend.catalogue import services

    data = songs_csv_text(shared_data, rows).encode()
    job = services.import_tracks(stream=io.BytesIO(data), filename="songs.csv", size=len(data))
    return job.created_count


def heard_track(
    session: TherapySession,
    track: Any,
    *,
    minutes_in: int,
    listened_ms: int,
    outcome: str = "finished",
    effect: tuple[float, float, float] | None = None,
    faces: int = 0,
) -> Any:
    """A played stretch of `track` in a past session, as the player and attribution would have
    stored it; effect = (d_valence, d_arousal, progress toward the goal) or None (unmeasured)."""
    from backend.recommendations.models import Listening, Recommendation, RecommendationItem

    playlist = session.recommendations.first() or Recommendation.objects.create(
        session=session,
        goal=session.goal,
        length=20,
        start_valence=0.0,
        start_arousal=0.0,
        mood_source="checkin",
        target_valence=0.0,
        target_arousal=-0.6,
        trigger="seeded",
    )
    item = RecommendationItem.objects.create(
        recommendation=playlist,
        position=playlist.items.count(),
        track=track,
        waypoint_valence=track.mood_valence,
        waypoint_arousal=track.mood_arousal,
        track_valence=track.mood_valence,
        track_arousal=track.mood_arousal,
        cost=0.0,
        reason="seeded",
    )
    start = session.started_at + timedelta(minutes=minutes_in)
    dv, da, progress = effect if effect is not None else (None, None, None)
    return Listening.objects.create(
        session=session,
        patient=session.patient,
        item=item,
        track=track,
        goal=session.goal,
        started_at=start,
        ended_at=start + timedelta(milliseconds=listened_ms),
        outcome=outcome,
        start_position_ms=0,
        end_position_ms=listened_ms,
        listened_ms=listened_ms,
        effect_valence=dv,
        effect_arousal=da,
        effect_progress=progress,
        effect_variance=0.01 if effect is not None else None,
        effect_faces=faces,
        effect_source="face" if effect is not None else "",
    )
