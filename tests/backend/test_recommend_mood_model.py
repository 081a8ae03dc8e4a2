"""The mood model: held-out accuracy on the labelled tracks, and the shipped coefficients."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.catalogue import mood_model
from backend.catalogue.mood_model import MOODS, MoodModel


@pytest.fixture(scope="module")
def labelled(shared_data):  # type: ignore[no-untyped-def]
    path = shared_data / "songs" / "data_moods.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_ten_fold_held_out_accuracy_beats_the_published_neural_network(labelled) -> None:  # type: ignore[no-untyped-def]
    result = mood_model.evaluate(labelled, k=10, seed=0)
    assert result["accuracy_mean"] >= 0.76  # the source notebook's MLP: 0.710 +- 0.045
    confusion = np.array(result["confusion_matrix_rows_true_cols_predicted"])
    assert confusion.sum() == result["n"] == 686
    assert len(result["fold_accuracies"]) == 10


def test_folds_are_stratified(labelled) -> None:  # type: ignore[no-untyped-def]
    _, labels = mood_model.load_labelled(labelled)
    folds = mood_model.stratified_folds(labels, 10, seed=0)
    for fold in range(10):
        counts = np.bincount(labels[folds == fold], minlength=len(MOODS))
        overall = np.bincount(labels, minlength=len(MOODS)) / 10
        assert np.all(np.abs(counts - overall) <= 1)


def test_shipped_coefficients_are_a_fit_of_the_labelled_data(labelled) -> None:  # type: ignore[no-untyped-def]
    fresh = MoodModel.fit(*mood_model.load_labelled(labelled))
    shipped = mood_model.shipped_model()
    assert np.allclose(fresh.arousal_weights, shipped.arousal_weights, atol=1e-6)
    assert np.allclose(fresh.region_weights, shipped.region_weights, atol=1e-6)


def test_arousal_rises_with_energy_and_loudness_and_falls_with_acousticness() -> None:
    weights = dict(
        zip(mood_model.AROUSAL_FEATURES, mood_model.shipped_model().arousal_weights, strict=False)
    )
    assert weights["energy"] > 0 and weights["loudness"] > 0 and weights["tempo"] > 0
    assert weights["acousticness"] < 0 and weights["instrumentalness"] < 0


def test_placing_tracks_gives_coordinates_on_the_unit_plane_and_a_region() -> None:
    features = {
        "valence": [0.9, 0.1],
        "energy": [0.95, 0.05],
        "loudness": [-3.0, -30.0],
        "tempo": [150.0, 70.0],
        "acousticness": [0.01, 0.95],
        "instrumentalness": [0.0, 0.9],
    }
    valence, arousal, regions = mood_model.place(features)
    assert np.all(np.abs(valence) <= 1) and np.all(np.abs(arousal) <= 1)
    assert arousal[0] > 0.5 > -0.5 > arousal[1]
    assert regions[1] == "calm" and regions[0] in ("happy", "energetic")


def test_the_command_prints_one_json_line(labelled, capsys) -> None:  # type: ignore[no-untyped-def]
    mood_model.main(["--evaluate", "--json", "--folds", "5", "--data", str(labelled)])
    result = json.loads(capsys.readouterr().out)
    assert result["folds"] == 5 and 0 <= result["accuracy_mean"] <= 1
