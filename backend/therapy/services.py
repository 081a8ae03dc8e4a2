"""Writes for therapy: sessions (and who edits which notes), frame uploads, check-ins. The
worker's results (readings, frame status, session mood) are written by therapy.analysis."""

from __future__ import annotations

import errno
import uuid
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import User
from backend.common import jobs
from backend.common.errors import ApplicationError
from backend.therapy.models import CheckInPhase, Frame, MoodCheckIn, TherapySession
from backend.therapy.uploads import CleanImage


def start_session(*, patient: User, goal: str, notes: str = "") -> TherapySession:
    if not patient.is_patient:
        raise ApplicationError(
            "only patients start therapy sessions",
            status_code=status.HTTP_403_FORBIDDEN,
            code="forbidden",
        )
    return TherapySession.objects.create(patient=patient, goal=goal, notes=notes)


# Who writes which field of a session: each note has one author.
PATIENT_FIELDS = frozenset({"goal", "notes"})
THERAPIST_FIELDS = frozenset({"therapist_notes"})


def update_session(*, actor: User, session: TherapySession, **fields: Any) -> TherapySession:
    """The patient edits the goal and their notes; a current therapist edits the therapist
    notes. Anything else is refused (403), so neither can overwrite the other's words."""
    allowed = (
        PATIENT_FIELDS
        if actor.pk == session.patient_id
        else THERAPIST_FIELDS
        if actor.is_current_therapist_of(session.patient_id)
        else frozenset()
    )
    refused = sorted(set(fields) - allowed)
    if refused:
        raise ApplicationError(
            f"you cannot change {', '.join(refused)} of this session",
            code="forbidden",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=list(fields))
    return session


def end_session(*, session: TherapySession) -> TherapySession:
    """End the session; the recommender then learns from it (light queue, after commit)."""
    if session.ended_at is None:
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        # A lost message loses nothing for long: each run rebuilds the patient's model from
        # every stored listening, so the next session's run includes this one.
        jobs.enqueue_best_effort(jobs.LEARN_FROM_SESSION, session.pk)
    return session


# captured_at (from the client's clock) must fall in this much of the session's span
CAPTURE_SLACK = timedelta(minutes=10)


def frame_for_key(*, session: TherapySession, client_key: str) -> Frame | None:
    """The frame an earlier upload with this idempotency key created, if any."""
    if not client_key:
        return None
    return Frame.objects.filter(session=session, client_key=client_key).first()


def _check_captured_at(session: TherapySession, captured_at: datetime) -> None:
    earliest, latest = session.started_at - CAPTURE_SLACK, timezone.now() + CAPTURE_SLACK
    if not earliest <= captured_at <= latest:
        raise ApplicationError(
            "captured_at must lie between the session's start and now "
            f"(give or take {int(CAPTURE_SLACK.total_seconds() // 60)} minutes)",
            code="captured_at_out_of_range",
        )


def accept_frame(
    *,
    session: TherapySession,
    image: CleanImage,
    captured_at: datetime | None = None,
    client_key: str = "",
) -> Frame:
    """Store a validated frame and queue its analysis once the row is committed. With a
    client key, a concurrent retry that loses the race returns the winner's frame."""
    if session.ended_at is not None:
        raise ApplicationError(
            "this session has ended", code="session_ended", status_code=status.HTTP_409_CONFLICT
        )
    consented = getattr(session, "patient_consented", None)  # selectors.own_session_for_upload
    if not (session.patient.has_active_consent() if consented is None else consented):
        raise ApplicationError(
            "consent to camera-based emotion analysis is needed before frames are accepted",
            code="consent_required",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    if captured_at is not None:
        _check_captured_at(session, captured_at)
    frame = Frame(
        session=session,
        client_key=client_key,
        captured_at=captured_at or timezone.now(),
        content_hash=image.content_hash,
        width=image.width,
        height=image.height,
    )
    _store_image(frame, image.jpeg)
    # A request runs in autocommit: the INSERT commits by itself and the message goes out
    # right after it (two round trips fewer than BEGIN ... COMMIT). Inside a caller's
    # transaction a savepoint keeps a key collision from breaking that transaction.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else nullcontext():
            frame.save()
            jobs.enqueue(jobs.ANALYSE_FRAME, frame.pk)
    except jobs.BrokerUnavailable as exc:
        # The row committed but its task could not be queued: undo both, so that every
        # accepted (202) frame has a message and a refused one leaves nothing behind.
        Frame.objects.filter(pk=frame.pk).delete()
        frame.image.delete(save=False)
        raise ApplicationError(
            "the analysis queue is unavailable, please retry shortly",
            code="broker_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        ) from exc
    except IntegrityError:
        frame.image.delete(save=False)
        earlier = frame_for_key(session=session, client_key=client_key)
        if earlier is None:
            raise
        return earlier  # the same upload, retried concurrently: one frame, one answer
    except BaseException:
        frame.image.delete(save=False)  # the row is gone: leave no orphan file behind
        raise
    return frame


def _store_image(frame: Frame, jpeg: bytes) -> None:
    """Write the frame's file; a full or failing disk is a clear 507/503 with nothing left."""
    name = frame.image.field.generate_filename(frame, f"{uuid.uuid4().hex}.jpg")
    try:
        frame.image.save(name.rsplit("/", 1)[-1], ContentFile(jpeg), save=False)
    except OSError as exc:
        frame.image.storage.delete(name)  # remove whatever part of the file was written
        if exc.errno == errno.ENOSPC:
            raise ApplicationError(
                "the server has no room to store frames right now; please try again later",
                code="storage_full",
                status_code=status.HTTP_507_INSUFFICIENT_STORAGE,
            ) from exc
        raise ApplicationError(
            "frame storage is unavailable right now; please try again later",
            code="storage_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        ) from exc


def record_checkin(
    *,
    patient: User,
    session: TherapySession | None,
    phase: str,
    valence: float,
    arousal: float,
    word: str = "",
    note: str = "",
) -> MoodCheckIn:
    """One before/after check-in per session (a second one replaces the first)."""
    if session is None:
        if phase != CheckInPhase.STANDALONE:
            raise ApplicationError("a before/after check-in belongs to a session")
        return MoodCheckIn.objects.create(
            patient=patient, phase=phase, valence=valence, arousal=arousal, word=word, note=note
        )
    if session.patient_id != patient.pk:
        raise ApplicationError(
            "session not found", status_code=status.HTTP_404_NOT_FOUND, code="not_found"
        )
    if phase == CheckInPhase.STANDALONE:
        raise ApplicationError("a check-in inside a session is 'before' or 'after'")
    checkin, _ = MoodCheckIn.objects.update_or_create(
        patient=patient,
        session=session,
        phase=phase,
        defaults={"valence": valence, "arousal": arousal, "word": word, "note": note},
    )
    return checkin
