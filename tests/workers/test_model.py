"""Which detector retry views a retry setting (ML_RETRY for workers) selects."""

import pytest

from ml.pipeline import RETRY_CHOICES, RETRY_VIEWS, retry_views
from workers import config

TURNED = ((-20.0, False), (20.0, False), (-40.0, False), (40.0, False))


@pytest.mark.parametrize(
    ("choice", "expected"), [("all", RETRY_VIEWS), ("turned", TURNED), ("off", ())]
)
def test_ml_retry_selects_the_detector_retry_views(choice, expected):  # type: ignore[no-untyped-def]
    assert retry_views(choice) == expected


def test_an_unknown_retry_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="retry must be one of"):
        retry_views("sometimes")


def test_the_worker_setting_offers_exactly_the_pipeline_choices() -> None:
    assert config.RETRY_CHOICES == RETRY_CHOICES


def test_all_views_are_the_turned_ones_and_their_mirror_images() -> None:
    assert set(RETRY_VIEWS) == set(TURNED) | {(a, True) for a, _ in TURNED} | {(0.0, True)}
