"""What one played stretch of a track did to the patient's mood. Pure numpy, no Django.

Faces. The change is read as unfolding over the stretch: the primary readings from BEFORE
seconds before it started to its end are fitted (least squares, valence and arousal apart)
with mood(t) = m0 + change * u(t), u = the share of the stretch played by t (0 before the
start, 1 at the end). m0 is the mood the change is measured from; the variance of the change
is the residual variance (floored at MIN_VARIANCE, so a few identical faces do not claim
certainty) over sum (u - mean u)^2. Both ends must be seen: MIN_FACES readings from BEFORE
seconds ahead of the start to LEAD seconds into it, and MIN_FACES in its last END seconds
(at most its second half); the stretch needs MIN_SECONDS of listening. Otherwise the faces
say nothing about it.

Check-ins. When the patient rated their mood right after the track, the change from their
previous self-report (the session's "before" check-in or the check-in after an earlier track)
is a second estimate with variance CHECKIN_VARIANCE. Both are combined by inverse variance.

Projection. `progress` is the change projected on the unit direction from the mood at the
start of the stretch toward the session goal's point (learning.goal_direction); None for a
goal without a direction (maintain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BEFORE = 20.0
LEAD = 10.0
END = 30.0
MIN_FACES = 3
MIN_SECONDS = 30.0
MIN_VARIANCE = 0.05**2
CHECKIN_VARIANCE = 0.1**2


@dataclass(frozen=True)
class Effect:
    d_valence: float
    d_arousal: float
    variance: float  # of each component (the mean of the two; they are measured alike)
    faces: int  # faces behind the estimate (0 = check-in only)
    source: str  # "face", "checkin" or "face+checkin"
    start: tuple[float, float]  # the mood the change is measured from
    progress: float | None = None  # change along the goal's direction
    progress_variance: float | None = None


def _count(t: np.ndarray, low: float, high: float) -> int:
    return int(((t >= low) & (t <= high)).sum())


def face_change(
    t: np.ndarray, valence: np.ndarray, arousal: np.ndarray, start: float, end: float
) -> tuple[np.ndarray, np.ndarray, float, int] | None:
    """(start mood, change, variance of each component, faces) from readings at times t
    (seconds), or None when the faces say nothing about the stretch."""
    if end - start < MIN_SECONDS:
        return None
    t = np.asarray(t, dtype=np.float64)
    half = (end - start) / 2.0
    if _count(t, start - BEFORE, start + min(LEAD, half)) < MIN_FACES:
        return None
    if _count(t, max(end - END, start + half), end) < MIN_FACES:
        return None
    inside = (t >= start - BEFORE) & (t <= end)
    u = np.clip((t[inside] - start) / (end - start), 0.0, 1.0)
    y = np.stack([np.asarray(valence, np.float64), np.asarray(arousal, np.float64)], axis=1)
    y = y[inside]
    centred = u - u.mean()
    spread = float(centred @ centred)
    change = centred @ (y - y.mean(axis=0)) / spread
    base = y.mean(axis=0) - change * u.mean()
    residual = y - base - np.outer(u, change)
    dof = max(len(u) - 2, 1)
    variance = np.maximum((residual**2).sum(axis=0) / dof, MIN_VARIANCE) / spread
    return base, change, float(variance.mean()), len(u)


def stretch_effect(
    t: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray,
    *,
    start: float,
    end: float,
    direction_of: object = None,
    checkin_before: tuple[float, float] | None = None,
    checkin_after: tuple[float, float] | None = None,
) -> Effect | None:
    """The stretch's effect from the readings (and check-ins where both exist), or None.

    direction_of: a callable (start mood) -> unit direction or None (learning.goal_direction
    bound to the session's goal); None leaves progress unset."""
    estimates: list[tuple[np.ndarray, float]] = []
    base: np.ndarray | None = None
    faces = 0
    seen = face_change(t, valence, arousal, start, end)
    if seen is not None:
        base, change, variance, faces = seen
        estimates.append((change, variance))
    rated = checkin_before is not None and checkin_after is not None
    if rated:
        before = np.asarray(checkin_before, dtype=np.float64)
        estimates.append((np.asarray(checkin_after, dtype=np.float64) - before, CHECKIN_VARIANCE))
        if base is None:
            base = before
    if not estimates or base is None:
        return None
    weights = np.array([1.0 / v for _, v in estimates])
    change = sum(w * c for w, (c, _) in zip(weights, estimates, strict=True)) / weights.sum()
    variance = float(1.0 / weights.sum())
    source = "+".join(["face"] * (seen is not None) + ["checkin"] * rated)
    effect = Effect(
        d_valence=float(change[0]),
        d_arousal=float(change[1]),
        variance=variance,
        faces=faces,
        source=source,
        start=(float(base[0]), float(base[1])),
    )
    direction = direction_of(effect.start) if callable(direction_of) else None
    if direction is None:
        return effect
    progress = float(np.dot(change, direction))
    return Effect(**{**effect.__dict__, "progress": progress, "progress_variance": variance})
