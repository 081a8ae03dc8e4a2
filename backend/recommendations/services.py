"""Writes for recommendations: build or adapt a session's playlist, record track feedback.

`refresh_for_session(session_id=...)` is what the worker's light-queue task
`refresh_recommendations(session_id)` calls after the session's mood moved. It is safe to run
any number of times: it builds a new playlist only when the mood moved by at least
REFRESH_DISTANCE from the one the current playlist started from (or there is none yet).
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import User
from backend.catalogue.models import Track
from backend.common import audit
from backend.common.errors import ApplicationError
from backend.common.models import AuditAction
from backend.recommendations import attribution, learning, scoring, selectors
from backend.recommendations.models import (
    FeedbackKind,
    Listening,
    PlaybackEvent,
    PlaybackKind,
    Recommendation,
    RecommendationItem,
    ResponseProfile,
    StretchOutcome,
    TrackFeedback,
)
from backend.therapy.models import EmotionReading, MoodCheckIn, TherapySession

logger = logging.getLogger(__name__)

DEFAULT_LENGTH = 20
MAX_LENGTH = 50
REFRESH_DISTANCE = 0.15
ALGORITHM = "iso-path-v2"  # v2: the learned term (learning.py) with its departure cap


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, float(x)))


@transaction.atomic
def build_playlist(
    *,
    session: TherapySession,
    length: int | None = None,
    trigger: str = "requested",
    rng: np.random.Generator | None = None,
) -> Recommendation:
    """Store a new playlist for the rest of the session, from the current mood to the goal.

    Tracks already played (or skipped) in this session lead the list (marked already_played)
    and count against the requested length; the new part starts from the current mood and
    its first track continues smoothly from the last one played.
    """
    if session.ended_at is not None:
        raise ApplicationError(
            "this session has ended", code="session_ended", status_code=status.HTTP_409_CONFLICT
        )
    if length is None:
        previous = selectors.current_recommendation(session)
        length = previous.length if previous is not None else DEFAULT_LENGTH
    if not 1 <= length <= MAX_LENGTH:
        raise ApplicationError(f"length must be between 1 and {MAX_LENGTH}")
    state = selectors.feedback_state(patient_id=session.patient_id, session_id=session.pk)
    history = state.history
    remaining = length - len(history.played)
    if remaining < 1:
        remaining = length  # the playlist was played through: start another round
    mood = selectors.current_mood(session, track_checkin=state.track_checkin)
    catalogue = selectors.active_catalogue()
    last_played = _tempo_energy(catalogue, state.last_played)
    start = (_clip(mood.valence), _clip(mood.arousal))
    # the seed is stored: the build, its Thompson draw included, can be replayed
    seed = secrets.randbits(32) if rng is None else None
    learned, learning_inputs = _learned(
        session, start, catalogue, rng or np.random.default_rng(seed), seed
    )
    plan = scoring.build_playlist(
        catalogue,
        start=start,
        goal=session.goal,
        length=remaining,
        history=history,
        previous=last_played,
        gain=learned.gain if learned else None,
    )
    recommendation = Recommendation.objects.create(
        session=session,
        goal=session.goal,
        length=length,
        start_valence=plan.start[0],
        start_arousal=plan.start[1],
        mood_source=mood.source,
        target_valence=plan.target[0],
        target_arousal=plan.target[1],
        trigger=trigger[:200],
        inputs={
            "algorithm": ALGORITHM,
            "mood_at": mood.at.isoformat() if mood.at else None,
            "catalogue_size": len(catalogue),
            "liked": len(history.liked),
            "disliked": len(history.disliked),
            "skipped": len(history.skipped),
            "played_this_session": sorted(history.played),
            "played_earlier": len(history.recent),
            "previous_track": state.last_played,
            "requested": remaining,
            "waypoints": [[round(float(v), 4), round(float(a), 4)] for v, a in plan.waypoints],
            "learning": learning_inputs,
        },
    )
    played = _played_items(recommendation, state.played_order)
    RecommendationItem.objects.bulk_create(
        played
        + [
            RecommendationItem(
                recommendation=recommendation,
                position=len(played) + p.position,
                track_id=p.track_id,
                waypoint_valence=p.waypoint[0],
                waypoint_arousal=p.waypoint[1],
                track_valence=p.valence,
                track_arousal=p.arousal,
                cost=p.cost,
                reason=_with_learned_reason(p, learned, catalogue, session.goal),
                gain=p.gain,
            )
            for p in plan.picks
        ]
    )
    logger.info(
        "playlist session=%s recommendation=%s tracks=%s trigger=%s",
        session.pk,
        recommendation.pk,
        len(plan.picks),
        trigger,
    )
    return recommendation


@dataclass(frozen=True)
class _Learned:
    gain: np.ndarray  # (N,) predicted progress per catalogue row under the Thompson draw
    posterior: learning.Posterior
    direction: np.ndarray
    sessions: int


def _learned(
    session: TherapySession,
    start: tuple[float, float],
    catalogue: scoring.Catalogue,
    rng: np.random.Generator,
    seed: int | None,
) -> tuple[_Learned | None, dict[str, Any]]:
    """The learned term for this build (one Thompson draw of the patient's response model,
    projected on the direction from the current mood to the goal) and what the playlist's
    inputs say of it; no term when the patient's learning is off or there is no direction to
    progress in (maintain, or the mood is already at the goal)."""
    direction = learning.goal_direction(session.goal, start)
    if direction is None:
        return None, {"enabled": False, "why": f"no direction to progress in ({session.goal})"}
    state = selectors.learning_state(session.patient_id)
    if not state.enabled:
        return None, {"enabled": False, "why": "switched off for this patient"}
    draw = state.posterior.sample(rng)
    inputs = {
        "enabled": True,
        "model": learning.VERSION,
        "exploration": "thompson",
        "own_stretches": state.posterior.count,
        "sessions": state.sessions,
        "direction": [round(float(d), 4) for d in direction],
        "max_departure": scoring.MAX_DEPARTURE,
        **({"draw_seed": seed} if seed is not None else {}),
    }
    learned = _Learned(
        gain=learning.gains(catalogue.features, draw, direction),
        posterior=state.posterior,
        direction=direction,
        sessions=state.sessions,
    )
    return learned, inputs


def _with_learned_reason(
    pick: scoring.Pick,
    learned: _Learned | None,
    catalogue: scoring.Catalogue,
    goal: str,
) -> str:
    if learned is None:
        return pick.reason
    row = catalogue.row_of(pick.track_id)
    said = None
    if row is not None:
        said = learning.reason(
            catalogue.features[row], learned.posterior, learned.direction, goal, learned.sessions
        )
    return f"{pick.reason} {said}" if said else pick.reason


def _played_items(
    recommendation: Recommendation, order: tuple[tuple[int, str], ...]
) -> list[RecommendationItem]:
    """Items for the tracks already played or skipped in the session, in that order."""
    if not order:
        return []
    places = dict(
        (pk, (v, a))
        for pk, v, a in Track.objects.filter(pk__in=[t for t, _ in order]).values_list(
            "pk", "mood_valence", "mood_arousal"
        )
    )
    return [
        RecommendationItem(
            recommendation=recommendation,
            position=i,
            track_id=track_id,
            waypoint_valence=places[track_id][0],
            waypoint_arousal=places[track_id][1],
            track_valence=places[track_id][0],
            track_arousal=places[track_id][1],
            cost=0.0,
            reason=f"Already {kind} in this session.",
            already_played=True,
        )
        for i, (track_id, kind) in enumerate(order)
    ]


def _tempo_energy(catalogue: scoring.Catalogue, track_id: int | None) -> tuple[float, float] | None:
    """(tempo, energy) of a track: from the cached matrix, or the table if it is inactive."""
    if track_id is None:
        return None
    row = catalogue.row_of(track_id)
    if row is not None:
        return float(catalogue.tempo[row]), float(catalogue.energy[row])
    track = Track.objects.filter(pk=track_id).values_list("tempo", "energy").first()
    return (float(track[0]), float(track[1])) if track is not None else None


def refresh_for_session(*, session_id: int) -> Recommendation | None:
    """Adapt the remaining playlist when the session's mood moved; None when nothing to do."""
    session = TherapySession.objects.filter(pk=session_id, ended_at__isnull=True).first()
    if session is None:
        return None
    current = selectors.current_recommendation(session)
    mood = selectors.current_mood(session)
    if current is not None:
        moved = math.dist(
            (current.start_valence, current.start_arousal), (mood.valence, mood.arousal)
        )
        if moved < REFRESH_DISTANCE and current.goal == session.goal:
            return None
        trigger = f"mood moved {moved:.2f} on the plane ({mood.source})"
    else:
        trigger = f"first playlist ({mood.source})"
    return build_playlist(session=session, trigger=trigger)


@transaction.atomic
def record_feedback(
    *,
    session: TherapySession,
    patient: User,
    track: Track,
    kind: str,
    valence: float | None = None,
    arousal: float | None = None,
    word: str = "",
) -> tuple[TrackFeedback, Recommendation | None]:
    """Store feedback; a dislike or a mood check-in adapts the playlist right away."""
    if session.patient_id != patient.pk:
        raise ApplicationError(
            "only the patient can do this in their session",
            code="forbidden",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    if session.ended_at is not None:
        raise ApplicationError(
            "this session has ended", code="session_ended", status_code=status.HTTP_409_CONFLICT
        )
    if (valence is None) != (arousal is None):
        raise ApplicationError("a check-in needs both valence and arousal")
    feedback = TrackFeedback.objects.create(
        session=session,
        patient=patient,
        track=track,
        kind=kind,
        valence=valence,
        arousal=arousal,
        word=word,
    )
    refreshed = None
    if selectors.current_recommendation(session) is not None:
        if kind == FeedbackKind.DISLIKED:
            refreshed = build_playlist(session=session, trigger=f"track {track.pk} disliked")
        elif valence is not None:
            refreshed = build_playlist(session=session, trigger="check-in after a track")
    return feedback, refreshed


# --- playback: what was heard, and what it did ---------------------------------------------

POSITION_SLACK_MS = 5_000  # a player may report a little past the track's stated duration
CLOCK_SLACK_MS = 2_000  # listening time per segment is capped by wall time plus this


def _bad_order(message: str) -> ApplicationError:
    return ApplicationError(message, code="not_playing", status_code=status.HTTP_409_CONFLICT)


@transaction.atomic
def record_playback(
    *,
    session: TherapySession,
    patient: User,
    item_id: int,
    kind: str,
    position_ms: int,
    client_event_id: str = "",
) -> tuple[PlaybackEvent, bool]:
    """Store one player event and update the listening it belongs to; (event, created).

    started: opens a listening of the item (one that was still open is closed as
    interrupted). paused / resumed: pause and resume it. finished / skipped: close it and
    measure what it did. A retried event (same client_event_id) returns the stored one."""
    if session.patient_id != patient.pk:
        raise ApplicationError(
            "only the patient can do this in their session",
            code="forbidden",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    # one event at a time per session: the open listening is read and written consistently
    session = TherapySession.objects.select_for_update().get(pk=session.pk)
    if client_event_id:
        stored = PlaybackEvent.objects.filter(
            session=session, client_event_id=client_event_id
        ).first()
        if stored is not None:
            return stored, False
    if session.ended_at is not None:
        raise ApplicationError(
            "this session has ended", code="session_ended", status_code=status.HTTP_409_CONFLICT
        )
    item = (
        RecommendationItem.objects.select_related("track")
        .filter(pk=item_id, recommendation__session=session)
        .first()
    )
    if item is None:
        raise ApplicationError("no such playlist item in this session", code="unknown_item")
    if position_ms > item.track.duration_ms + POSITION_SLACK_MS:
        raise ApplicationError(
            f"position {position_ms} ms is past the end of the track ({item.track.duration_ms} ms)"
        )
    now = timezone.now()
    open_ = Listening.objects.filter(session=session, outcome=StretchOutcome.PLAYING).first()
    if kind == PlaybackKind.STARTED:
        if open_ is not None:
            _close(open_, StretchOutcome.INTERRUPTED, None, now)
            open_.save()
        listening = Listening.objects.create(
            session=session,
            patient_id=session.patient_id,
            item=item,
            track=item.track,
            goal=session.goal,
            started_at=now,
            start_position_ms=position_ms,
            segment_position_ms=position_ms,
            segment_started_at=now,
        )
        if not TrackFeedback.objects.filter(
            session=session, track=item.track, kind__in=(FeedbackKind.PLAYED, FeedbackKind.SKIPPED)
        ).exists():
            TrackFeedback.objects.create(
                session=session, patient=patient, track=item.track, kind=FeedbackKind.PLAYED
            )
    else:
        if open_ is None or open_.item_id != item.pk:
            raise _bad_order(f"{kind}: this item is not playing (send 'started' first)")
        listening = open_
        if kind == PlaybackKind.PAUSED:
            _end_segment(listening, position_ms, now)
        elif kind == PlaybackKind.RESUMED:
            if listening.segment_position_ms is None:
                listening.segment_position_ms, listening.segment_started_at = position_ms, now
        else:
            _close(listening, kind, position_ms, now)
            if kind == PlaybackKind.SKIPPED:
                TrackFeedback.objects.create(
                    session=session, patient=patient, track=item.track, kind=FeedbackKind.SKIPPED
                )
        listening.save()
    event = PlaybackEvent.objects.create(
        session=session,
        item=item,
        track=item.track,
        listening=listening,
        kind=kind,
        position_ms=position_ms,
        at=now,
        client_event_id=client_event_id,
    )
    return event, True


def _end_segment(listening: Listening, position_ms: int | None, now: datetime) -> None:
    """Add the segment now playing to the listening time (position-based, capped by the wall
    clock); position None = not reported (interrupted): the wall clock alone."""
    if listening.segment_position_ms is None or listening.segment_started_at is None:
        return
    wall = (now - listening.segment_started_at).total_seconds() * 1000
    heard = wall if position_ms is None else position_ms - listening.segment_position_ms
    heard = max(0.0, min(heard, wall + CLOCK_SLACK_MS))
    listening.listened_ms += int(heard)
    listening.end_position_ms = (
        position_ms
        if position_ms is not None
        else min(listening.segment_position_ms + int(heard), listening.track.duration_ms)
    )
    listening.segment_position_ms = listening.segment_started_at = None


def _close(listening: Listening, outcome: str, position_ms: int | None, now: datetime) -> None:
    _end_segment(listening, position_ms, now)
    if position_ms is not None:
        listening.end_position_ms = position_ms
    listening.outcome = outcome
    listening.ended_at = now
    measure(listening)  # saved by the caller


def measure(listening: Listening) -> None:
    """Set the listening's effect fields from the session's readings and check-ins (saved by
    the caller). Runs when it closes and again when the session's learning runs."""
    start, end = listening.started_at, listening.ended_at or timezone.now()
    readings = list(
        EmotionReading.objects.filter(
            session_id=listening.session_id,
            is_primary=True,
            captured_at__gte=start - timedelta(seconds=attribution.BEFORE),
            captured_at__lte=end,
        ).values_list("captured_at", "valence", "arousal")
    )
    times = np.array([(at - start).total_seconds() for at, _, _ in readings])
    before, after = _self_reports(listening, start, end)
    effect = attribution.stretch_effect(
        times,
        np.array([r[1] for r in readings]),
        np.array([r[2] for r in readings]),
        start=0.0,
        end=(end - start).total_seconds(),
        direction_of=lambda mood: learning.goal_direction(listening.goal, mood),
        checkin_before=before,
        checkin_after=after,
    )
    listening.effect_at = timezone.now()
    if effect is None:
        listening.effect_valence = listening.effect_arousal = listening.effect_variance = None
        listening.effect_progress, listening.effect_faces, listening.effect_source = None, 0, ""
        return
    listening.effect_valence, listening.effect_arousal = effect.d_valence, effect.d_arousal
    listening.effect_variance, listening.effect_progress = effect.variance, effect.progress
    listening.effect_faces, listening.effect_source = effect.faces, effect.source


def _self_reports(
    listening: Listening, start: datetime, end: datetime
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(the patient's last self-report before the track, their check-in right after it)."""
    reports = [
        (at, (v, a))
        for at, v, a in MoodCheckIn.objects.filter(
            session_id=listening.session_id, created_at__lt=start
        ).values_list("created_at", "valence", "arousal")
    ]
    rated = TrackFeedback.objects.filter(
        session_id=listening.session_id, valence__isnull=False, arousal__isnull=False
    )
    reports += [
        (at, (v, a))
        for at, v, a in rated.filter(created_at__lt=start).values_list(
            "created_at", "valence", "arousal"
        )
    ]
    before = max(reports, key=lambda r: r[0])[1] if reports else None
    after_row = (
        rated.filter(track_id=listening.track_id, created_at__gte=start)
        .order_by("created_at")
        .values_list("valence", "arousal")
        .first()
    )
    return before, (after_row[0], after_row[1]) if after_row else None


def learn_from_session(*, session_id: int) -> ResponseProfile | None:
    """After a session: close a listening left open, measure every listening of the session
    again (readings analysed late count), then rebuild the patient's evidence from all their
    measured listenings. Idempotent: it recomputes, so running it twice or after a lost run
    gives the same profile."""
    session = TherapySession.objects.filter(pk=session_id).first()
    if session is None:
        return None
    with transaction.atomic():
        for listening in Listening.objects.select_for_update().filter(session=session):
            if listening.outcome == StretchOutcome.PLAYING:
                end = session.ended_at or timezone.now()
                _close(listening, StretchOutcome.INTERRUPTED, None, end)
            else:
                measure(listening)
            listening.save()
        return rebuild_profile(patient_id=session.patient_id)


def rebuild_profile(*, patient_id: int) -> ResponseProfile:
    measured = list(
        Listening.objects.filter(patient_id=patient_id, effect_valence__isnull=False).values_list(
            "track_id", "session_id", "effect_valence", "effect_arousal", "effect_variance"
        )
    )
    features = selectors.track_features([row[0] for row in measured])
    evidence = learning.Evidence.empty()
    if measured:
        evidence = learning.Evidence.of(
            np.array([features[row[0]] for row in measured]),
            np.array([[row[2], row[3]] for row in measured]),
            np.array([row[4] for row in measured]),
        )
    profile, _ = ResponseProfile.objects.update_or_create(
        patient_id=patient_id,
        defaults={
            "evidence": evidence.to_json(),
            "sessions": len({row[1] for row in measured}),
            "version": learning.VERSION,
            "updated_at": timezone.now(),
        },
    )
    return profile


@transaction.atomic
def set_learning(*, actor: User, patient: User, enabled: bool) -> ResponseProfile:
    """A current therapist switches learning on or off for their patient (audited)."""
    if not actor.is_current_therapist_of(patient.pk):
        raise ApplicationError(
            "only the patient's current therapist can switch learning",
            code="forbidden",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    profile, _ = ResponseProfile.objects.get_or_create(patient=patient)
    profile.learning_enabled = enabled
    profile.learning_changed_by = actor
    profile.learning_changed_at = timezone.now()
    profile.save(update_fields=["learning_enabled", "learning_changed_by", "learning_changed_at"])
    audit.record(
        actor=actor,
        patients=[patient],
        action=AuditAction.LEARNING_SWITCH,
        params={"enabled": enabled},
    )
    return profile
