"""Reads for the recommender: the cached catalogue matrix, a patient's history, the mood.

The active catalogue (about 28k tracks) is loaded once per process into numpy arrays and kept
until the catalogue changes: every request compares max(updated_at), max(id) of the track
table with the cached version (one query answered from two indexes), and reloads only when it
moved. Every catalogue write bumps updated_at (backend.catalogue.services); tracks are never
hard-deleted by the product (deactivation is a write), so this version sees every change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.catalogue.models import Track
from backend.catalogue.mood_model import MOODS
from backend.recommendations import learning
from backend.recommendations.models import (
    FeedbackKind,
    Listening,
    Recommendation,
    ResponseProfile,
    TrackFeedback,
)
from backend.recommendations.scoring import Catalogue, History
from backend.therapy import selectors as therapy_selectors
from backend.therapy.models import EmotionReading, MoodCheckIn, TherapySession

RECENT_WINDOW = timedelta(days=30)
READINGS_FALLBACK = 10  # primary readings averaged when the session has no smoothed mood yet
_lock = threading.Lock()
_cache: dict[str, Any] = {"version": None, "catalogue": None}
_population: dict[str, Any] = {"version": None, "pooled": None, "parts": {}}


def catalogue_version() -> tuple[int | None, datetime | None]:
    row = Track.objects.aggregate(last_id=Max("id"), latest=Max("updated_at"))
    return row["last_id"], row["latest"]


CATALOGUE_COLUMNS = (
    "id",
    "mood_valence",
    "mood_arousal",
    "tempo",
    "energy",
    "artist",
    "mood_region",
    "valence",
    "acousticness",
    "danceability",
    "instrumentalness",
    "mode",
    "genre",
)


def _load() -> Catalogue:
    rows = list(Track.objects.filter(is_active=True).order_by("id").values_list(*CATALOGUE_COLUMNS))
    artists: dict[str, int] = {}
    codes = []
    for i, row in enumerate(rows):
        name = row[5].strip().lower()
        # An unknown artist is its own artist, never "the same" as another unknown one.
        codes.append(artists.setdefault(name, len(artists)) if name else -1 - i)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(CATALOGUE_COLUMNS)
    by_name = dict(zip(CATALOGUE_COLUMNS, columns, strict=True))
    return Catalogue(
        ids=np.array(columns[0], dtype=np.int64),
        valence=np.array(columns[1], dtype=np.float64),
        arousal=np.array(columns[2], dtype=np.float64),
        tempo=np.array(columns[3], dtype=np.float64),
        energy=np.array(columns[4], dtype=np.float64),
        artist=np.array(codes, dtype=np.int64),
        region=np.array([MOODS.index(r) for r in columns[6]], dtype=np.int64),
        features=learning.feature_matrix({name: by_name[name] for name in learning.INPUTS}),
    )


def track_features(track_ids: list[int]) -> dict[int, np.ndarray]:
    """track id -> its learning.feature_matrix row (active or not)."""
    rows = list(Track.objects.filter(pk__in=set(track_ids)).values_list("pk", *learning.INPUTS))
    if not rows:
        return {}
    columns = list(zip(*rows, strict=True))
    x = learning.feature_matrix(dict(zip(learning.INPUTS, columns[1:], strict=True)))
    return {int(pk): x[i] for i, pk in enumerate(columns[0])}


def active_catalogue() -> Catalogue:
    """The active catalogue's arrays, reloaded only when the track table changed."""
    version = catalogue_version()
    with _lock:
        if _cache["version"] != version or _cache["catalogue"] is None:
            _cache["catalogue"], _cache["version"] = _load(), version
        catalogue: Catalogue = _cache["catalogue"]
        return catalogue


@dataclass(frozen=True)
class Mood:
    valence: float
    arousal: float
    source: str
    at: datetime | None


@dataclass(frozen=True)
class FeedbackState:
    history: History
    last_played: int | None  # track id of the last track played or skipped in this session
    played_order: tuple[tuple[int, str], ...]  # (track id, played|skipped) in this session
    track_checkin: Mood | None  # the latest check-in after a track in this session


def feedback_state(*, patient_id: int, session_id: int) -> FeedbackState:
    """Everything the recommender needs from the patient's feedback, in one query.

    Likes/dislikes: the latest verdict per track wins. Played or skipped in this session:
    excluded from the rest of it; in earlier sessions within RECENT_WINDOW: "recent" (a small
    penalty)."""
    verdicts: dict[int, str] = {}
    skipped: set[int] = set()
    recent: set[int] = set()
    played: set[int] = set()
    last_played: int | None = None
    played_order: dict[int, str] = {}
    checkin: Mood | None = None
    recent_since = timezone.now() - RECENT_WINDOW
    rows = (
        TrackFeedback.objects.filter(patient_id=patient_id)
        .order_by("created_at", "id")
        .values_list("track_id", "kind", "session_id", "valence", "arousal", "created_at")
    )
    for track_id, kind, session, valence, arousal, created_at in rows:
        if kind in (FeedbackKind.LIKED, FeedbackKind.DISLIKED):
            verdicts[track_id] = kind
        elif kind == FeedbackKind.SKIPPED:
            skipped.add(track_id)
        if kind in (FeedbackKind.PLAYED, FeedbackKind.SKIPPED):
            if session == session_id:
                played.add(track_id)
            elif created_at >= recent_since:
                recent.add(track_id)
            if session == session_id:
                last_played = track_id
                played_order.setdefault(track_id, kind)
        if session == session_id and valence is not None and arousal is not None:
            checkin = Mood(valence, arousal, "track_checkin", created_at)
    history = History(
        liked=frozenset(t for t, k in verdicts.items() if k == FeedbackKind.LIKED),
        disliked=frozenset(t for t, k in verdicts.items() if k == FeedbackKind.DISLIKED),
        skipped=frozenset(skipped),
        recent=frozenset(recent - played),
        played=frozenset(played),
    )
    return FeedbackState(
        history=history,
        last_played=last_played,
        played_order=tuple(played_order.items()),
        track_checkin=checkin,
    )


def patient_history(*, patient_id: int, session_id: int) -> History:
    return feedback_state(patient_id=patient_id, session_id=session_id).history


_UNKNOWN = Mood(0.0, 0.0, "default", None)


def current_mood(session: TherapySession, track_checkin: Mood | None = _UNKNOWN) -> Mood:
    """The most recent of: the session's smoothed facial mood (or, before the worker has
    smoothed any, the mean of its last READINGS_FALLBACK primary readings), a check-in in this
    session, a check-in after a track. Neutral (0, 0) when nothing is known yet."""
    candidates: list[Mood] = []
    if session.mood_valence is not None and session.mood_arousal is not None:
        candidates.append(
            Mood(
                session.mood_valence,
                session.mood_arousal,
                "face",
                session.mood_updated_at,
            )
        )
    else:
        recent = list(
            EmotionReading.objects.filter(session=session, is_primary=True)
            .order_by("-captured_at")
            .values_list("valence", "arousal", "captured_at")[:READINGS_FALLBACK]
        )
        if recent:  # the worker has not smoothed them into the session yet
            candidates.append(
                Mood(
                    sum(r[0] for r in recent) / len(recent),
                    sum(r[1] for r in recent) / len(recent),
                    "face",
                    recent[0][2],
                )
            )
    checkin = MoodCheckIn.objects.filter(session=session).order_by("-created_at").first()
    if checkin is not None:
        candidates.append(Mood(checkin.valence, checkin.arousal, "checkin", checkin.created_at))
    if track_checkin is _UNKNOWN:  # not looked up by the caller: look it up
        track_checkin = feedback_state(
            patient_id=session.patient_id, session_id=session.pk
        ).track_checkin
    if track_checkin is not None:
        candidates.append(track_checkin)
    if not candidates:
        return Mood(0.0, 0.0, "default", None)
    return max(candidates, key=lambda m: m.at.timestamp() if m.at else 0.0)


def current_recommendation(session: TherapySession) -> Recommendation | None:
    return session.recommendations.order_by("-created_at", "-id").first()


def visible_session(user: User, session_id: int) -> TherapySession | None:
    return therapy_selectors.visible_sessions(user).filter(pk=session_id).first()


def items_with_tracks(recommendation: Recommendation) -> QuerySet[Any]:
    return recommendation.items.select_related("track").order_by("position")


def latest_feedback(session_id: int) -> dict[int, str]:
    """track id -> the latest feedback kind in the session."""
    rows = TrackFeedback.objects.filter(session_id=session_id).order_by("created_at", "id")
    return dict(rows.values_list("track_id", "kind"))


# --- learning: the patients' response models ---------------------------------------------


def population_evidence() -> tuple[learning.Evidence, dict[int, learning.Evidence]]:
    """(every patient's evidence pooled, each patient's part of that sum), cached per process.

    Kept current incrementally: each call compares (count, latest updated_at) of the profiles
    with the cached ones and reads only the profiles updated since; a profile that disappeared
    (an erased patient) makes it sum everything afresh. The parts let a patient's prior leave
    out exactly what the cached sum holds of them."""
    count, latest = ResponseProfile.objects.aggregate(
        n=Count("id"), latest=Max("updated_at")
    ).values()
    with _lock:
        cached = _population
        if cached["version"] == (count, latest):
            return cached["pooled"], cached["parts"]
        parts: dict[int, learning.Evidence] = dict(cached["parts"])
        pooled: learning.Evidence | None = cached["pooled"]
        if pooled is not None:  # add what changed since the cached sum
            since = cached["version"][1]
            rows = ResponseProfile.objects.all()
            changed = rows if since is None else rows.filter(updated_at__gte=since)
            for patient_id, evidence in changed.values_list("patient_id", "evidence"):
                part = learning.Evidence.from_json(evidence)
                pooled = pooled - parts.get(patient_id, learning.Evidence.empty()) + part
                parts[patient_id] = part
        if pooled is None or len(parts) != count:  # first use, or a profile went away
            parts = {
                patient_id: learning.Evidence.from_json(evidence)
                for patient_id, evidence in ResponseProfile.objects.values_list(
                    "patient_id", "evidence"
                )
            }
            pooled = sum(parts.values(), learning.Evidence.empty())
        _population.update(version=(count, latest), pooled=pooled, parts=parts)
        return pooled, parts


@dataclass(frozen=True)
class LearningState:
    enabled: bool
    posterior: learning.Posterior
    sessions: int


def learning_state(patient_id: int) -> LearningState:
    """The patient's switch and posterior (their evidence over the population prior)."""
    profile = ResponseProfile.objects.filter(patient_id=patient_id).first()
    own = learning.Evidence.from_json(profile.evidence if profile else None)
    pooled, parts = population_evidence()
    others = pooled - parts.get(patient_id, learning.Evidence.empty())
    return LearningState(
        enabled=profile.learning_enabled if profile else True,
        posterior=learning.patient_posterior(own, learning.population_posterior(others).mean),
        sessions=profile.sessions if profile else 0,
    )


def session_listening(session_id: int) -> QuerySet[Listening]:
    return Listening.objects.filter(session_id=session_id).select_related("track")


WHAT_WORKS_NOTICE = (
    "These are observations from this patient's own sessions (how their detected and "
    "self-reported mood changed while tracks played), not a diagnosis or a prescription. "
    "Faces are read approximately; small numbers of sessions give wide intervals."
)
TOP_FEATURES = 5
TOP_TRACKS = 5


def what_works(patient_id: int) -> dict[str, Any]:
    """The audio features and tracks with the strongest measured responses, per goal.

    Features: the patient's response model (their evidence over the population prior) read
    along each goal's direction, with 90% intervals; `clear` when the interval excludes 0.
    Tracks: the measured progress toward the session's goal of each track played in a session
    with that goal (inverse-variance mean over its plays), with a 90% interval."""
    state = learning_state(patient_id)
    rows = list(
        Listening.objects.filter(patient_id=patient_id, effect_progress__isnull=False).values_list(
            "goal",
            "track_id",
            "track__title",
            "track__artist",
            "session_id",
            "effect_progress",
            "effect_variance",
        )
    )
    per_track: dict[tuple[str, int], dict[str, Any]] = {}
    for goal, track_id, title, artist, session_id, progress, variance in rows:
        entry = per_track.setdefault(
            (goal, track_id),
            {
                "track": {"id": track_id, "title": title, "artist": artist},
                "w": 0.0,
                "wy": 0.0,
                "plays": 0,
                "sessions": set(),
            },
        )
        weight = 1.0 / (learning.TRACK_NOISE_VAR + variance)
        entry["w"] += weight
        entry["wy"] += weight * progress
        entry["plays"] += 1
        entry["sessions"].add(session_id)
    summary = learning.summary(state.posterior)
    goals: dict[str, Any] = {}
    for goal in learning.GOAL_POINTS:
        tracks = []
        for (g, _), entry in per_track.items():
            if g != goal:
                continue
            mean, sd = entry["wy"] / entry["w"], entry["w"] ** -0.5
            lo, hi = learning.interval(mean, sd)
            tracks.append(
                {
                    "track": entry["track"],
                    "progress": round(mean, 4),
                    "interval90": [round(lo, 4), round(hi, 4)],
                    "plays": entry["plays"],
                    "sessions": len(entry["sessions"]),
                }
            )
        tracks.sort(key=lambda t: -t["progress"])
        goals[goal] = {
            "features": summary[goal][:TOP_FEATURES] if state.posterior.count else [],
            "tracks": tracks[:TOP_TRACKS],
            "measured_plays": sum(t["plays"] for t in tracks),
        }
    return {
        "patient": patient_id,
        "learning_enabled": state.enabled,
        "sessions": state.sessions,
        "measured_stretches": state.posterior.count,
        "model": learning.VERSION,
        "notice": WHAT_WORKS_NOTICE,
        "goals": goals,
    }
