"""Writes for frame analysis: the worker claims frames and records results only through here.

A claim is a conditional UPDATE (queued -> processing, or a processing frame whose lease has
expired); its `claimed_at` doubles as a fencing token: results are written only while the frame
is still processing under that very claim, so a duplicate delivery, a stale worker that was
presumed dead, or a requeue can never write a second set of readings. The readings, the final
status and the session's mood move together in one transaction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from backend.accounts.models import ConsentRecord
from backend.common import jobs, notify
from backend.common.dbclock import db_now
from backend.common.faults import fault_point
from backend.therapy.models import EMOTIONS, EmotionReading, Frame, FrameStatus, TherapySession

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a frame that kills its worker this often is poison: fail it
MOOD_WINDOW = 30  # primary readings that feed the smoothed mood
MOOD_WINDOW_SECONDS = 120.0
MOOD_TAU_SECONDS = 10.0  # a reading's weight halves about every 7 s behind the newest one
REFRESH_EVERY_SECONDS = 2.0  # recommendations are refreshed at most about this often


class FaceResult(Protocol):
    """What the worker hands over per face (ml.FaceEmotion has exactly these fields)."""

    face_index: int
    box: tuple[float, float, float, float]
    landmarks: Sequence[Sequence[float]]
    score: float
    probabilities: Mapping[str, float]
    emotion: str
    confidence: float
    valence: float
    arousal: float


@dataclass(frozen=True)
class Claim:
    frame_id: int
    token: datetime  # the claimed_at written by this claim
    session_id: int
    patient_id: int
    captured_at: datetime
    uploaded_at: datetime
    image_name: str
    attempts: int
    consented: bool  # the patient's consent to the notice in force, read with the claim


@dataclass(frozen=True)
class Held:
    """The frame is being processed under someone else's live claim; look again later."""

    retry_after: float


def _claimable(lease: timedelta, now: datetime) -> Q:
    return Q(status=FrameStatus.QUEUED) | Q(
        status=FrameStatus.PROCESSING, claimed_at__lt=now - lease
    )


def _try_claim(frame_id: int, lease: timedelta) -> Claim | None:
    now = db_now()  # the token and the lease check both on the database's clock
    claimed = (
        Frame.objects.filter(pk=frame_id)
        .filter(_claimable(lease, now))
        .update(status=FrameStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    consent = ConsentRecord.objects.current().filter(patient_id=OuterRef("session__patient_id"))
    row = (
        Frame.objects.filter(pk=frame_id)
        .annotate(consented=Exists(consent))
        .values(
            "session_id",
            "session__patient_id",
            "captured_at",
            "uploaded_at",
            "image",
            "attempts",
            "consented",
        )[0]
    )
    claim = Claim(
        frame_id=frame_id,
        token=now,
        session_id=row["session_id"],
        patient_id=row["session__patient_id"],
        captured_at=row["captured_at"],
        uploaded_at=row["uploaded_at"],
        image_name=row["image"] or "",
        attempts=row["attempts"],
        consented=row["consented"],
    )
    if claim.attempts > MAX_ATTEMPTS:
        fail_frame(claim=claim, reason=f"gave up after {MAX_ATTEMPTS} attempts")
        return None
    return claim


def claim_frame(*, frame_id: int, lease: timedelta) -> Claim | Held | None:
    """Claim one frame for analysis. None: nothing to do (final, or gone)."""
    claim = _try_claim(frame_id, lease)
    if claim is not None:
        return claim
    row = Frame.objects.filter(pk=frame_id).values("status", "claimed_at").first()
    if row is None or row["status"] != FrameStatus.PROCESSING or row["claimed_at"] is None:
        return None
    expires = row["claimed_at"] + lease - db_now()
    return Held(retry_after=max(1.0, expires.total_seconds() + 1.0))


def claim_queued(*, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to `limit` more queued frames, oldest first (a worker filling its batch)."""
    if limit <= 0:
        return []
    candidates = list(
        Frame.objects.filter(status=FrameStatus.QUEUED)
        .order_by("uploaded_at")
        .values_list("pk", flat=True)[: limit * 2]
    )
    claims: list[Claim] = []
    for frame_id in candidates:  # another worker may win some of them: that is fine
        if (claim := _try_claim(frame_id, lease)) is not None:
            claims.append(claim)
            if len(claims) == limit:
                break
    return claims


def release(*, claims: Sequence[Claim]) -> None:
    """Hand claimed frames back to the queue (the worker hit a transient error).

    The attempt is given back too: attempts count claims that never finished (a worker
    death), which is what flags a poison frame, and a database hiccup is not one.
    """
    for claim in claims:
        Frame.objects.filter(
            pk=claim.frame_id, status=FrameStatus.PROCESSING, claimed_at=claim.token
        ).update(status=FrameStatus.QUEUED, attempts=F("attempts") - 1)


def read_image(*, claim: Claim) -> bytes:
    """The stored frame bytes. Raises FileNotFoundError when the file is missing."""
    if not claim.image_name:
        raise FileNotFoundError("the frame has no stored image")
    with default_storage.open(claim.image_name, "rb") as f:
        data: bytes = f.read()
    return data


def _finish(claim: Claim, *, delete_image: bool, **fields: Any) -> bool:
    """Write the final state under the claim; run inside the caller's transaction.

    The raw image is deleted *before* the row that names it is committed without it (delete
    first, then forget): a crash in between leaves a row whose file is gone (the frame is then
    retried and fails cleanly), never a file that no row names. Call `_forget_image` last.
    """
    if delete_image:
        fields["image"] = ""
    updated = Frame.objects.filter(
        pk=claim.frame_id, status=FrameStatus.PROCESSING, claimed_at=claim.token
    ).update(processed_at=timezone.now(), **fields)
    if updated:
        transaction.on_commit(lambda: notify.session_changed(claim.session_id))
    return bool(updated)


def _forget_image(claim: Claim) -> None:
    """Delete the raw image, as the last step before the transaction commits: a storage error
    rolls the whole result back (the frame is retried with its file still there)."""
    if claim.image_name:
        default_storage.delete(claim.image_name)
        fault_point("after_image_deleted")


def fail_frame(*, claim: Claim, reason: str, delete_image: bool | None = None) -> bool:
    """Mark a claimed frame failed with `reason`. False: the claim was lost meanwhile."""
    if delete_image is None:
        delete_image = settings.FRAME_RETENTION == "delete"
    with transaction.atomic():
        done = _finish(claim, delete_image=delete_image, status=FrameStatus.FAILED, error=reason)
        if done and delete_image:
            _forget_image(claim)
    logger.warning("frame failed frame_id=%s reason=%s done=%s", claim.frame_id, reason, done)
    return done


def record_result(*, claim: Claim, faces: Sequence[FaceResult], model_version: str) -> str | None:
    """Readings + final status + session mood in one transaction.

    Returns the frame's new status, or None when the claim was lost (nothing written).
    """
    status = FrameStatus.DONE if faces else FrameStatus.NO_FACE
    with transaction.atomic():
        session = None
        if faces:
            # Lock the session first: its readings then commit in id order, which is what
            # lets a live stream follow them with an `id > cursor` query without gaps. The
            # locked row is reused for the mood update (one lock, not two, per frame).
            session = TherapySession.objects.select_for_update().filter(pk=claim.session_id).first()
        if not _finish(
            claim,
            delete_image=settings.FRAME_RETENTION == "delete",
            status=status,
            error="",
            model_version=model_version,
        ):
            logger.warning("claim lost, result discarded frame_id=%s", claim.frame_id)
            return None
        EmotionReading.objects.bulk_create([_reading(claim, face, model_version) for face in faces])
        if session is not None:
            update_mood(session_id=claim.session_id, locked=session)
        if settings.FRAME_RETENTION == "delete":
            _forget_image(claim)
    return str(status)


def _reading(claim: Claim, face: FaceResult, model_version: str) -> EmotionReading:
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return EmotionReading(
        frame_id=claim.frame_id,
        session_id=claim.session_id,
        patient_id=claim.patient_id,
        captured_at=claim.captured_at,
        face_index=face.face_index,
        is_primary=face.face_index == 0,  # faces arrive largest first
        box_x1=x1,
        box_y1=y1,
        box_x2=x2,
        box_y2=y2,
        landmarks=[[float(x), float(y)] for x, y in face.landmarks],
        detection_score=float(face.score),
        emotion=face.emotion,
        confidence=float(face.confidence),
        valence=float(face.valence),
        arousal=float(face.arousal),
        model_version=model_version,
        **{f"p_{e}": float(face.probabilities[e]) for e in EMOTIONS},
    )


def smoothed_mood(readings: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Exponentially time-weighted valence, arousal and emotion distribution.

    Weights decay with the distance (in capture time) to the newest reading, so the result
    does not depend on the order in which workers happened to finish the frames.
    """
    if not readings:
        return None
    newest = max(r["captured_at"] for r in readings)
    weighted = []
    for r in readings:
        age = (newest - r["captured_at"]).total_seconds()
        if age <= MOOD_WINDOW_SECONDS:
            weighted.append((math.exp(-age / MOOD_TAU_SECONDS), r))
    total = sum(w for w, _ in weighted)
    distribution = {e: sum(w * r[f"p_{e}"] for w, r in weighted) / total for e in EMOTIONS}
    return {
        "valence": sum(w * r["valence"] for w, r in weighted) / total,
        "arousal": sum(w * r["arousal"] for w, r in weighted) / total,
        "distribution": {e: round(p, 4) for e, p in distribution.items()},
    }


def update_mood(*, session_id: int, locked: TherapySession | None = None) -> None:
    """Recompute the session's live mood from its recent primary readings.

    The session row is locked so concurrent workers recompute one after another, each seeing
    the readings the previous one committed (`locked`: the caller already holds the lock).
    """
    session = locked or TherapySession.objects.select_for_update().get(pk=session_id)
    recent = list(
        EmotionReading.objects.filter(session_id=session_id, is_primary=True)
        .order_by("-captured_at", "-id")
        .values("captured_at", "valence", "arousal", *(f"p_{e}" for e in EMOTIONS))[:MOOD_WINDOW]
    )
    mood = smoothed_mood(recent)
    if mood is None:
        return
    previous = session.mood_updated_at
    session.mood_valence = mood["valence"]
    session.mood_arousal = mood["arousal"]
    session.mood_distribution = mood["distribution"]
    session.mood_updated_at = timezone.now()
    session.save(
        update_fields=["mood_valence", "mood_arousal", "mood_distribution", "mood_updated_at"]
    )
    bucket = REFRESH_EVERY_SECONDS
    if previous is None or (
        previous.timestamp() // bucket != session.mood_updated_at.timestamp() // bucket
    ):
        # the light queue refreshes the playlist; a broker hiccup only delays it
        jobs.enqueue_best_effort(jobs.REFRESH_RECOMMENDATIONS, session_id)
