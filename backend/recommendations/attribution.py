"""What one played stretch of a track did to the patient's mood. Pure numpy, no Django.

Faces. The mood at the stretch's start is the mean of the primary readings from BEFORE
seconds before it started to LEAD seconds into it (the track's first seconds have not acted
yet); the mood at its end is the mean over its last END seconds (at most its second half).
The change is end - start, with variance var_end / n_end + var_start / n_start (each
window's sample variance, floored at MIN_VARIANCE so three identical faces do not claim
certainty). A window needs MIN_FACES faces, and the stretch MIN_SECONDS of listening;
otherwise the faces say nothing about it.

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


def _window(t: np.ndarray, y: np.ndarray, low: float, high: float) -> tuple[np.ndarray, int]:
    inside = (t >= low) & (t <= high)
    return y[inside], int(inside.sum())


def face_change(
    t: np.ndarray, valence: np.ndarray, arousal: np.ndarray, start: float, end: float
) -> tuple[np.ndarray, np.ndarray, float, int] | None:
    """(start mood, change, variance, faces) from readings at times t (seconds), or None."""
    if end - start < MIN_SECONDS:
        return None
    t = np.asarray(t, dtype=np.float64)
    y = np.stack([np.asarray(valence, np.float64), np.asarray(arousal, np.float64)], axis=1)
    half = (end - start) / 2.0
    before, n0 = _window(t, y, start - BEFORE, start + min(LEAD, half))
    after, n1 = _window(t, y, max(end - END, start + half), end)
    if n0 < MIN_FACES or n1 < MIN_FACES:
        return None
    v0 = np.maximum(before.var(axis=0, ddof=1), MIN_VARIANCE) / n0
    v1 = np.maximum(after.var(axis=0, ddof=1), MIN_VARIANCE) / n1
    m0 = before.mean(axis=0)
    return m0, after.mean(axis=0) - m0, float(np.mean(v0 + v1)), n0 + n1


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
