"""The worker's pipeline settings: which detector retry views ML_RETRY selects."""

import pytest

from ml.pipeline import RETRY_VIEWS
from workers import config, model

TURNED = ((-20.0, False), (20.0, False), (-40.0, False), (40.0, False))


@pytest.mark.parametrize(
    ("choice", "expected"), [("all", RETRY_VIEWS), ("turned", TURNED), ("off", ())]
)
def test_ml_retry_selects_the_detector_retry_views(monkeypatch, choice, expected):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(config, "RETRY", choice)
    assert model.retry_views(RETRY_VIEWS) == expected


def test_all_views_are_the_turned_ones_and_their_mirror_images() -> None:
    assert set(RETRY_VIEWS) == set(TURNED) | {(a, True) for a, _ in TURNED} | {(0.0, True)}
