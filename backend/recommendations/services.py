"""Writes for recommendations: build or adapt a session's playlist, record track feedback.

`refresh_for_session(session_id=...)` is what the worker's light-queue task
`refresh_recommendations(session_id)` calls after the session's mood moved. It is safe to run
any number of times: it builds a new playlist only when the mood moved by at least
REFRESH_DISTANCE from the one the current playlist started from (or there is none yet).
"""

from __future__ import annotations

import logging
import math

from django.db import transaction
from rest_framework import status

from backend.accounts.models import User
from backend.catalogue.models import Track
from backend.common.errors import ApplicationError
from backend.recommendations import scoring, selectors
from backend.recommendations.models import (
    FeedbackKind,
    Recommendation,
    RecommendationItem,
    TrackFeedback,
)
from backend.therapy.models import TherapySession

logger = logging.getLogger(__name__)

DEFAULT_LENGTH = 20
MAX_LENGTH = 50
REFRESH_DISTANCE = 0.15
ALGORITHM = "iso-path-v1"


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, float(x)))


@transaction.atomic
def build_playlist(
    *, session: TherapySession, length: int | None = None, trigger: str = "requested"
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
    plan = scoring.build_playlist(
        catalogue,
        start=(_clip(mood.valence), _clip(mood.arousal)),
        goal=session.goal,
        length=remaining,
        history=history,
        previous=last_played,
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
                reason=p.reason,
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
