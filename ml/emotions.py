"""The emotion labels and the one place that turns probabilities into valence/arousal.

Everything in the product uses this label order (the FER-2013 class indices).
"""

from __future__ import annotations

from collections.abc import Sequence

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Circumplex coordinates (valence = pleasure, arousal), each in [-1, 1], per emotion.
# Source: the pleasure/arousal values of the PAD model, Russell & Mehrabian (1977),
# "Evidence for a three-factor theory of emotions", J. Research in Personality 11:273-294,
# as tabulated by Gebhard (2005), "ALMA - A Layered Model of Affect", AAMAS, table 1
# (anger, disgust, fear, joy, sadness; surprise from Mehrabian's table). Neutral is the origin.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "happy": (0.81, 0.51),
    "sad": (-0.63, -0.27),
    "surprise": (0.40, 0.67),
    "neutral": (0.0, 0.0),
}


def valence_arousal(probabilities: Sequence[float]) -> tuple[float, float]:
    """Probability-weighted circumplex position of a 7-way emotion distribution.

    `probabilities` is in EMOTIONS order; it is renormalised, so it need not sum to 1 exactly.
    """
    if len(probabilities) != len(EMOTIONS):
        raise ValueError(f"expected {len(EMOTIONS)} probabilities, got {len(probabilities)}")
    total = float(sum(probabilities))
    if total <= 0 or any(p < 0 for p in probabilities):
        raise ValueError("probabilities must be non-negative with a positive sum")
    valence = sum(p * CIRCUMPLEX[e][0] for p, e in zip(probabilities, EMOTIONS, strict=True))
    arousal = sum(p * CIRCUMPLEX[e][1] for p, e in zip(probabilities, EMOTIONS, strict=True))
    return valence / total, arousal / total
