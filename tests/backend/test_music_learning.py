"""Playback inside the session, what each track did, and the per-patient response model.

Attribution and the model are tested on synthetic data with a known effect; the playback
API end to end (events -> listening time -> effect -> the patient's model -> what works)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from pypdf import PdfReader

from backend.recommendations import attribution, learning, scoring, services
from backend.recommendations.models import (
    Listening,
    PlaybackEvent,
    ResponseProfile,
    TrackFeedback,
)
from backend.recommendations.serializers import WhatWorksSerializer
from backend.therapy import services as therapy_services
from tests.backend.conftest import assert_documented, make_reading, make_session
from tests.backend.test_catalogue_api import make_catalogue

# --- attribution on synthetic readings --------------------------------------------------


def synthetic_faces(
    rng: np.random.Generator,
    seconds: float,
    start: tuple[float, float],
    change: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(-attribution.BEFORE, seconds, 1.0)
    frac = np.clip(t / seconds, 0, 1)
    noise = rng.normal(0, 0.15, (t.size, 2))
    v = start[0] + frac * change[0] + noise[:, 0]
    a = start[1] + frac * change[1] + noise[:, 1]
    return t, v, a


def test_a_known_effect_is_recovered_within_its_stated_uncertainty() -> None:
    rng = np.random.default_rng(0)
    errors, sds = [], []
    for _ in range(200):
        t, v, a = synthetic_faces(rng, 180.0, (-0.3, 0.4), (0.2, -0.3))
        effect = attribution.stretch_effect(
            t, v, a, start=0.0, end=180.0,
            direction_of=lambda mood: learning.goal_direction("calm", mood),
        )  # fmt: skip
        assert effect is not None and effect.source == "face"
        errors.append((effect.d_valence - 0.2, effect.d_arousal + 0.3))
        sds.append(effect.variance**0.5)
    errors_arr = np.array(errors)
    assert np.all(np.abs(errors_arr.mean(axis=0)) < 0.02)  # unbiased
    # the stated variance matches the spread of the estimates (within 25%)
    assert 0.75 < errors_arr.std(axis=0).mean() / np.mean(sds) < 1.25


def test_progress_is_the_change_along_the_direction_to_the_goal() -> None:
    t = np.arange(-20.0, 120.0, 1.0)
    v = np.zeros_like(t)
    a = 0.5 - 0.4 * np.clip(t / 120.0, 0, 1)  # arousal falls by 0.4: toward calm from (0, 0.5)
    effect = attribution.stretch_effect(
        t, v, a, start=0.0, end=120.0,
        direction_of=lambda mood: learning.goal_direction("calm", mood),
    )  # fmt: skip
    assert effect is not None
    assert effect.d_arousal == pytest.approx(-0.4)
    assert effect.progress == pytest.approx(0.4)


def test_too_few_faces_or_too_short_a_stretch_say_nothing() -> None:
    t = np.array([-5.0, 100.0, 110.0])
    assert attribution.stretch_effect(t, t * 0, t * 0, start=0.0, end=120.0) is None
    t = np.arange(-20.0, 20.0, 1.0)
    assert attribution.stretch_effect(t, t * 0, t * 0, start=0.0, end=20.0) is None


def test_a_checkin_alone_measures_the_track_and_joins_the_faces_when_both_exist() -> None:
    none = np.array([])
    alone = attribution.stretch_effect(
        none, none, none, start=0.0, end=120.0, checkin_before=(0.0, 0.0), checkin_after=(0.3, 0.0)
    )
    assert alone is not None and alone.source == "checkin" and alone.d_valence == pytest.approx(0.3)
    t = np.arange(-20.0, 120.0, 0.5)
    flat = np.zeros_like(t)
    both = attribution.stretch_effect(
        t, flat, flat, start=0.0, end=120.0, checkin_before=(0.0, 0.0), checkin_after=(0.3, 0.0)
    )
    assert both is not None and both.source == "face+checkin"
    assert 0.0 < both.d_valence < 0.3 and both.variance < alone.variance


# --- the response model -------------------------------------------------------------------


def test_the_posterior_moves_toward_the_simulated_truth() -> None:
    rng = np.random.default_rng(1)
    truth = np.zeros((learning.D, 2))
    truth[learning.FEATURES.index("acousticness")] = (0.0, -0.06)  # acoustic music calms
    truth[learning.FEATURES.index("valence")] = (0.05, 0.0)
    x = learning.feature_matrix(
        {
            "valence": rng.random(300),
            "energy": rng.random(300),
            "tempo": rng.uniform(60, 180, 300),
            "acousticness": rng.random(300),
            "danceability": rng.random(300),
            "instrumentalness": rng.random(300),
            "mode": rng.integers(0, 2, 300),
            "genre": rng.choice(["pop", "rock", "rap"], 300),
        }
    )
    y = x @ truth + rng.normal(0, 0.05, (300, 2))
    prior = learning.posterior_for(learning.Evidence.empty(), learning.Evidence.empty())
    errors = []
    own = learning.Evidence.empty()
    for n in (0, 10, 50, 300):
        own = learning.Evidence.of(x[:n], y[:n], np.full(n, 0.05**2 - learning.TRACK_NOISE_VAR))
        posterior = learning.posterior_for(own, own)  # no one else: the prior is flat
        errors.append(float(np.abs(posterior.mean - truth).max()))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.015
    k = learning.FEATURES.index("acousticness")
    assert posterior.cov[k, k] < prior.cov[k, k] / 20  # and it got surer
    calm = learning.summary(posterior)["calm"]
    assert calm[0]["feature"] == "acousticness" and calm[0]["clear"]
    assert calm[0]["words"] == "acoustic"


def test_the_population_prior_leaves_the_patients_own_evidence_out() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (40, learning.D))
    mine = learning.Evidence.of(x, np.full((40, 2), 0.1), np.full(40, 0.01))
    others = learning.Evidence.of(x, np.full((40, 2), -0.1), np.full(40, 0.01))
    alone = learning.posterior_for(mine, mine)
    pooled = learning.posterior_for(mine, mine + others)
    assert (
        learning.gains(x, pooled.mean, np.array([1.0, 0.0])).mean()
        < learning.gains(x, alone.mean, np.array([1.0, 0.0])).mean()
    )
    assert mine.to_json() == learning.Evidence.from_json(mine.to_json()).to_json()


def test_the_learned_term_reorders_tracks_near_the_path_but_never_leaves_it() -> None:
    rng = np.random.default_rng(3)
    size = 2000
    features = rng.uniform(-1, 1, (size, learning.D))
    catalogue = scoring.Catalogue(
        ids=np.arange(1, size + 1, dtype=np.int64),
        valence=rng.uniform(-1, 1, size),
        arousal=rng.uniform(-1, 1, size),
        tempo=rng.uniform(60, 180, size),
        energy=rng.uniform(0, 1, size),
        artist=np.arange(size),
        region=rng.integers(0, 4, size),
        features=features,
    )
    start, goal = (-0.2, 0.6), "calm"
    static = scoring.build_playlist(catalogue, start=start, goal=goal, length=12)
    gain = np.where(features[:, 4] > 0.5, 1.0, 0.0)  # this patient calms with acoustic music
    learned = scoring.build_playlist(catalogue, start=start, goal=goal, length=12, gain=gain)
    rows = [int(p.track_id) - 1 for p in learned.picks]
    assert (
        np.mean(features[rows, 4] > 0.5)
        > 0.9
        > np.mean(features[[p.track_id - 1 for p in static.picks], 4] > 0.5)
    )
    for pick, plain in zip(learned.picks, static.picks, strict=True):
        off = np.hypot(pick.valence - pick.waypoint[0], pick.arousal - pick.waypoint[1])
        nearest = np.hypot(plain.valence - plain.waypoint[0], plain.arousal - plain.waypoint[1])
        assert off <= nearest + scoring.MAX_DEPARTURE + 0.05
        assert pick.gain is not None


# --- playback through the API -------------------------------------------------------------


@pytest.fixture
def catalogue(db: None) -> Any:
    return make_catalogue(80)


def _playlist(client: Any, session: Any) -> list[dict[str, Any]]:
    response = client.post(f"/api/sessions/{session.pk}/playlist", {"length": 6}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["tracks"]


def _event(client: Any, session: Any, item: int, kind: str, position: int, **extra: Any) -> Any:
    return client.post(
        f"/api/sessions/{session.pk}/playback",
        {"item": item, "kind": kind, "position_ms": position, **extra},
        format="json",
    )


def _rewind(listening: Listening, seconds: float) -> None:
    """Move an open listening back in time (as if it had started `seconds` ago)."""
    back = timedelta(seconds=seconds)
    Listening.objects.filter(pk=listening.pk).update(
        started_at=listening.started_at - back, segment_started_at=listening.started_at - back
    )


@pytest.mark.django_db
def test_events_give_exact_listening_time_and_the_measured_effect(
    client_for: Any, patient: Any, catalogue: Any
) -> None:
    session = make_session(patient, goal="calm", started_at=timezone.now() - timedelta(minutes=10))
    client = client_for(patient)
    items = _playlist(client, session)
    first = items[0]["id"]
    assert _event(client, session, first, "started", 0).status_code == 201
    listening = Listening.objects.get(session=session)
    _rewind(listening, 150)
    # faces: arousal 0.5 at the start, falling steadily to 0.1 by the end of the track
    began = timezone.now() - timedelta(seconds=150)
    for s in range(-15, 150, 3):
        make_reading(
            session, captured_at=began + timedelta(seconds=s), valence=0.0,
            arousal=0.5 - 0.4 * max(s, 0) / 150,
        )  # fmt: skip
    Listening.objects.filter(pk=listening.pk).update(segment_started_at=began)
    assert _event(client, session, first, "paused", 60_000).status_code == 201
    assert _event(client, session, first, "resumed", 60_000).status_code == 201
    # a position that ran ahead of the wall clock is not believed: 80 s in 0 s of time
    listening.refresh_from_db()
    assert listening.segment_started_at is not None
    Listening.objects.filter(pk=listening.pk).update(
        segment_started_at=listening.segment_started_at - timedelta(seconds=80)
    )
    done = _event(client, session, first, "finished", 140_000, client_event_id="e-1")
    assert done.status_code == 201
    again = _event(client, session, first, "finished", 140_000, client_event_id="e-1")
    assert again.status_code == 200 and again.json()["id"] == done.json()["id"]  # a retry
    listening.refresh_from_db()
    assert listening.outcome == "finished"
    assert listening.listened_ms == 140_000
    assert listening.effect_arousal == pytest.approx(-0.4, abs=0.01)
    assert listening.effect_progress == pytest.approx(0.4, abs=0.02)
    assert listening.effect_faces > 10 and listening.effect_source == "face"
    kinds = list(PlaybackEvent.objects.filter(session=session).values_list("kind", "position_ms"))
    assert kinds == [("started", 0), ("paused", 60_000), ("resumed", 60_000), ("finished", 140_000)]
    # "tracks played" is exact, and the played track leads a rebuilt playlist
    body = client.get(f"/api/sessions/{session.pk}/playback").json()
    assert body["tracks_played"] == 1 and body["listened_ms"] == listening.listened_ms
    assert TrackFeedback.objects.filter(session=session, kind="played").count() == 1


@pytest.mark.django_db
def test_out_of_order_and_foreign_events_are_refused_and_store_nothing(
    client_for: Any, patient: Any, other_patient: Any, catalogue: Any
) -> None:
    session = make_session(patient, goal="uplift")
    client = client_for(patient)
    items = _playlist(client, session)
    other = make_session(other_patient, goal="uplift")
    foreign = _playlist(client_for(other_patient), other)
    refused = [
        _event(client, session, items[0]["id"], "finished", 1000),  # nothing started
        _event(client, session, foreign[0]["id"], "started", 0),  # not this session's item
        _event(client, session, items[0]["id"], "started", 10**8),  # past the end
        _event(client, session, items[0]["id"], "rewound", 0),
        client.post(
            f"/api/sessions/{session.pk}/playback", "{bad", content_type="application/json"
        ),
    ]
    assert [r.status_code for r in refused] == [409, 400, 400, 400, 400]
    assert all("error" in r.json() for r in refused)
    assert not PlaybackEvent.objects.exists() and not Listening.objects.exists()
    # starting another track closes the open one as interrupted
    _event(client, session, items[0]["id"], "started", 0)
    _event(client, session, items[1]["id"], "started", 0)
    assert list(Listening.objects.order_by("id").values_list("outcome", flat=True)) == [
        "interrupted",
        "playing",
    ]
    assert _event(client, session, items[0]["id"], "paused", 10).status_code == 409
    therapy_services.end_session(session=session)
    late = _event(client, session, items[1]["id"], "skipped", 10)
    assert late.status_code == 409 and late.json()["error"]["code"] == "session_ended"


@pytest.mark.django_db
def test_learning_after_a_session_builds_the_model_and_what_works(
    client_for: Any, patient: Any, therapist: Any, catalogue: Any
) -> None:
    session = make_session(patient, goal="calm", started_at=timezone.now() - timedelta(hours=1))
    client = client_for(patient)
    items = _playlist(client, session)
    for item in items[:3]:
        _event(client, session, item["id"], "started", 0)
        listening = Listening.objects.get(session=session, outcome="playing")
        _rewind(listening, 120)
        began = timezone.now() - timedelta(seconds=120)
        for s in range(-15, 120, 4):
            make_reading(
                session, captured_at=began + timedelta(seconds=s), valence=0.1,
                arousal=0.3 - 0.3 * min(max(s, 0), 119) / 119,
            )  # fmt: skip
        _event(client, session, item["id"], "finished", 119_000)
    therapy_services.end_session(session=session)
    profile = services.learn_from_session(session_id=session.pk)
    assert profile is not None and profile.sessions == 1
    assert profile.evidence["count"] == 3
    assert services.learn_from_session(session_id=session.pk).evidence == profile.evidence  # type: ignore[union-attr]
    body = client_for(therapist).get(f"/api/patients/{patient.pk}/what-works").json()
    assert body["measured_stretches"] == 3 and body["sessions"] == 1
    assert_documented(WhatWorksSerializer, body)  # what the OpenAPI schema says, key for key
    assert "not a diagnosis" in body["notice"]
    tracks = body["goals"]["calm"]["tracks"]
    assert len(tracks) == 3 and all(t["progress"] > 0.1 for t in tracks)
    lo, hi = tracks[0]["interval90"]
    assert lo < tracks[0]["progress"] < hi
    assert body["goals"]["calm"]["features"]  # read from the model, with intervals
    # the PDF report's second page says the same in words
    pdf = client_for(therapist).get(f"/api/reports/patients/{patient.pk}/report.pdf")
    assert pdf.status_code == 200
    music = PdfReader(io.BytesIO(pdf.content)).pages[1].extract_text()
    assert "Measured track responses: 3 over 1 session(s)" in music
    assert tracks[0]["track"]["title"] in music and "toward the goal" in music


@pytest.mark.django_db
def test_a_therapist_switches_learning_off_and_playlists_follow_the_plain_path(
    client_for: Any, patient: Any, therapist: Any, catalogue: Any
) -> None:
    url = f"/api/patients/{patient.pk}/music-learning"
    assert client_for(patient).put(url, {"enabled": False}, format="json").status_code == 403
    response = client_for(therapist).put(url, {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json() == {"enabled": False}
    assert ResponseProfile.objects.get(patient=patient).learning_changed_by == therapist
    session = make_session(patient, goal="calm")
    items = _playlist(client_for(patient), session)
    assert all(item["gain"] is None for item in items)
    playlist = client_for(patient).get(f"/api/sessions/{session.pk}/playlist").json()
    assert playlist["inputs"]["learning"]["enabled"] is False
    client_for(therapist).put(url, {"enabled": True}, format="json")
    again = make_session(patient, goal="calm")
    items = _playlist(client_for(patient), again)
    assert all(item["gain"] is not None for item in items)
    learning_inputs = client_for(patient).get(f"/api/sessions/{again.pk}/playlist").json()
    assert learning_inputs["inputs"]["learning"]["exploration"] == "thompson"
    assert isinstance(learning_inputs["inputs"]["learning"]["draw_seed"], int)  # replayable


@pytest.mark.django_db
def test_learned_reasons_say_what_worked_in_plain_words(patient: Any, catalogue: Any) -> None:
    # evidence that acoustic tracks calmed this patient, then a calm session
    x = np.zeros((30, learning.D))
    x[:, 0], x[:, 4] = 1.0, np.linspace(-1, 1, 30)
    y = np.stack([np.zeros(30), -0.08 * x[:, 4]], axis=1)
    evidence = learning.Evidence.of(x, y, np.full(30, 0.001))
    ResponseProfile.objects.create(patient=patient, evidence=evidence.to_json(), sessions=3)
    session = make_session(patient, goal="calm", mood_valence=0.0, mood_arousal=0.6)
    recommendation = services.build_playlist(
        session=session, length=8, rng=np.random.default_rng(0)
    )
    reasons = list(recommendation.items.values_list("reason", flat=True))
    assert any("You have calmed with acoustic" in r and "over 3 sessions" in r for r in reasons)


@pytest.mark.django_db
def test_the_population_sum_follows_profiles_as_they_change_and_go(
    patient: Any, other_patient: Any
) -> None:
    from backend.recommendations import selectors

    def evidence(value: float) -> dict[str, Any]:
        x = np.ones((2, learning.D))
        return learning.Evidence.of(x, np.full((2, 2), value), np.full(2, 0.01)).to_json()

    def full_sum() -> np.ndarray:
        rows = ResponseProfile.objects.values_list("evidence", flat=True)
        return sum((learning.Evidence.from_json(e) for e in rows), learning.Evidence.empty()).xtwy

    mine = ResponseProfile.objects.create(patient=patient, evidence=evidence(0.1))
    ResponseProfile.objects.create(patient=other_patient, evidence=evidence(-0.2))
    for change in ("created", "updated", "erased"):
        if change == "updated":
            mine.evidence, mine.updated_at = evidence(0.3), timezone.now()
            mine.save()
        if change == "erased":
            mine.delete()
        pooled, parts = selectors.population_evidence()
        assert np.allclose(pooled.xtwy, full_sum()), change
        assert (patient.pk in parts) == (change != "erased")
