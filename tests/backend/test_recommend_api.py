"""Session playlists: built from the current mood toward the goal, adapted as the mood
changes or the patient gives feedback, explained per track."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from backend.recommendations import selectors, services
from backend.recommendations.models import Recommendation
from backend.therapy.models import MoodCheckIn
from tests.backend.conftest import make_session
from tests.backend.test_catalogue_api import make_catalogue


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    return make_catalogue(120)


def make_ended_session(patient):  # type: ignore[no-untyped-def]
    started = timezone.now() - timezone.timedelta(hours=1)
    return make_session(
        patient, started_at=started, ended_at=started + timezone.timedelta(minutes=30)
    )


def _distance(item: dict, point: tuple[float, float]) -> float:  # type: ignore[type-arg]
    return math.dist((item["track_valence"], item["track_arousal"]), point)


@pytest.mark.django_db
def test_a_new_session_has_an_empty_playlist_until_one_is_built(client_for, patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    body = client_for(patient).get(f"/api/sessions/{session.pk}/playlist").json()
    assert body == {"id": None, "session": session.pk, "tracks": []}


@pytest.mark.django_db
def test_the_playlist_starts_at_the_face_mood_and_moves_toward_calm(client_for, patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(
        patient, goal="calm", mood_valence=-0.4, mood_arousal=0.5, mood_updated_at=timezone.now()
    )
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/playlist", {"length": 10}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["mood_source"], body["start_valence"], body["start_arousal"]) == (
        "face",
        -0.4,
        0.5,
    )
    assert (body["target_valence"], body["target_arousal"]) == (0.0, -0.6)
    tracks = body["tracks"]
    assert len(tracks) == 10 and len({t["track"]["id"] for t in tracks}) == 10
    target = (0.0, -0.6)
    assert _distance(tracks[-1], target) < _distance(tracks[0], target)
    assert tracks[0]["reason"].startswith("Track 1 of 10: matches your current mood")
    assert tracks[0]["track"]["title"] and tracks[0]["feedback"] is None
    got = client_for(patient).get(f"/api/sessions/{session.pk}/playlist").json()
    assert got["id"] == body["id"]


@pytest.mark.django_db
def test_a_disliked_track_leaves_the_playlist_at_once_and_never_returns(
    client_for, patient, catalogue
):  # type: ignore[no-untyped-def]
    session = make_session(patient, goal="uplift")
    client = client_for(patient)
    first = client.post(f"/api/sessions/{session.pk}/playlist", format="json").json()
    disliked = first["tracks"][3]["track"]["id"]
    response = client.post(
        f"/api/sessions/{session.pk}/feedback", {"track": disliked, "kind": "dislike"}
    )
    assert response.status_code == 201, response.content
    playlist = response.json()["playlist"]
    assert playlist["id"] != first["id"] and "disliked" in playlist["trigger"]
    assert disliked not in {t["track"]["id"] for t in playlist["tracks"]}
    later = make_session(patient, goal="uplift")
    again = client.post(f"/api/sessions/{later.pk}/playlist", format="json").json()
    assert disliked not in {t["track"]["id"] for t in again["tracks"]}


@pytest.mark.django_db
def test_played_tracks_are_not_repeated_and_shorten_the_rest(client_for, patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(patient, goal="energise")
    client = client_for(patient)
    first = client.post(f"/api/sessions/{session.pk}/playlist", {"length": 8}).json()
    played = [t["track"]["id"] for t in first["tracks"][:3]]
    for track in played:
        assert (
            client.post(
                f"/api/sessions/{session.pk}/feedback", {"track": track, "kind": "played"}
            ).status_code
            == 201
        )
    rest = client.post(f"/api/sessions/{session.pk}/playlist").json()
    tracks = rest["tracks"]
    assert len(tracks) == 8  # the three played lead, five new ones follow
    assert [t["track"]["id"] for t in tracks[:3]] == played
    assert all(t["already_played"] and t["feedback"] == "played" for t in tracks[:3])
    new = [t for t in tracks[3:] if not t["already_played"]]
    assert len(new) == 5 and not set(played) & {t["track"]["id"] for t in new}
    assert [t["position"] for t in tracks] == list(range(8))
    assert rest["inputs"]["played_this_session"] == sorted(played)
    assert "Tempo" in new[0]["reason"]  # continues smoothly from the last one played


@pytest.mark.django_db
def test_a_check_in_after_a_track_restarts_the_path_from_the_new_mood(
    client_for, patient, catalogue
):  # type: ignore[no-untyped-def]
    session = make_session(patient, goal="calm")
    client = client_for(patient)
    first = client.post(f"/api/sessions/{session.pk}/playlist").json()
    assert first["mood_source"] == "default"
    track = first["tracks"][0]["track"]["id"]
    response = client.post(
        f"/api/sessions/{session.pk}/feedback",
        {"track": track, "kind": "liked", "valence": 0.6, "arousal": 0.4, "word": "brighter"},
    )
    playlist = response.json()["playlist"]
    assert (playlist["mood_source"], playlist["start_valence"], playlist["start_arousal"]) == (
        "track_checkin",
        0.6,
        0.4,
    )
    liked = {t["track"]["id"]: t["feedback"] for t in playlist["tracks"]}
    assert liked.get(track) in (None, "liked")


@pytest.mark.django_db
def test_refresh_adapts_only_when_the_mood_moved(patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(
        patient, goal="uplift", mood_valence=-0.5, mood_arousal=-0.3, mood_updated_at=timezone.now()
    )
    created = services.refresh_for_session(session_id=session.pk)
    assert created is not None and created.trigger.startswith("first playlist")
    assert services.refresh_for_session(session_id=session.pk) is None  # nothing changed
    session.mood_valence, session.mood_arousal = 0.3, 0.2
    session.mood_updated_at = timezone.now()
    session.save()
    adapted = services.refresh_for_session(session_id=session.pk)
    assert adapted is not None and adapted.trigger.startswith("mood moved")
    assert (adapted.start_valence, adapted.start_arousal) == (0.3, 0.2)
    assert selectors.current_recommendation(session) == adapted
    assert Recommendation.objects.filter(session=session).count() == 2


@pytest.mark.django_db
def test_refresh_of_an_ended_or_missing_session_does_nothing(patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_ended_session(patient)
    assert services.refresh_for_session(session_id=session.pk) is None
    assert services.refresh_for_session(session_id=987654) is None


@pytest.mark.django_db
def test_the_latest_mood_source_wins(patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(
        patient,
        mood_valence=0.1,
        mood_arousal=0.1,
        mood_updated_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    MoodCheckIn.objects.create(
        patient=patient, session=session, phase="before", valence=-0.7, arousal=0.2
    )
    mood = selectors.current_mood(session)
    assert (mood.source, mood.valence, mood.arousal) == ("checkin", -0.7, 0.2)


@pytest.mark.django_db
def test_an_ended_session_gets_no_new_playlist(client_for, patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_ended_session(patient)
    response = client_for(patient).post(f"/api/sessions/{session.pk}/playlist")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"


@pytest.mark.django_db
def test_playlist_length_is_validated(client_for, patient, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    response = client_for(patient).post(f"/api/sessions/{session.pk}/playlist", {"length": 0})
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_therapist_sees_every_playlist_with_its_reasons(
    client_for, patient, therapist, catalogue
):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    services.build_playlist(session=session, length=5)
    services.build_playlist(session=session, length=5, trigger="again")
    history = client_for(therapist).get(f"/api/sessions/{session.pk}/playlists").json()
    assert [h["trigger"] for h in history] == ["again", "requested"]
    assert all(t["reason"] for h in history for t in h["tracks"])


@pytest.mark.django_db
def test_a_deactivated_track_leaves_future_playlists(patient, catalogue):  # type: ignore[no-untyped-def]
    from backend.catalogue import services as catalogue_services
    from backend.catalogue.models import Track

    session = make_session(patient)
    first = services.build_playlist(session=session, length=5)
    gone = first.items.first().track_id  # type: ignore[union-attr]
    catalogue_services.set_active(tracks=Track.objects.filter(pk=gone), active=False)
    again = services.build_playlist(session=session, length=5)
    assert gone not in set(again.items.values_list("track_id", flat=True))


@pytest.mark.django_db
def test_each_item_shows_the_patients_latest_feedback(client_for, patient, therapist, catalogue):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    client = client_for(patient)
    tracks = client.post(f"/api/sessions/{session.pk}/playlist", {"length": 4}).json()["tracks"]
    first, second = tracks[0]["track"]["id"], tracks[1]["track"]["id"]
    client.post(f"/api/sessions/{session.pk}/feedback", {"track": first, "kind": "like"})
    client.post(f"/api/sessions/{session.pk}/feedback", {"track": second, "kind": "skip"})
    seen = client_for(therapist).get(f"/api/sessions/{session.pk}/playlist").json()["tracks"]
    assert [t["feedback"] for t in seen] == ["liked", "skipped", None, None]
    listed = client_for(therapist).get(f"/api/sessions/{session.pk}/feedback").json()
    assert [(f["track"], f["kind"]) for f in listed] == [(first, "liked"), (second, "skipped")]


@pytest.mark.django_db
def test_before_the_worker_smooths_a_mood_the_latest_readings_stand_in(patient, catalogue):  # type: ignore[no-untyped-def]
    from tests.backend.conftest import make_reading

    session = make_session(patient)
    make_reading(session, valence=-0.6, arousal=0.2)
    make_reading(session, valence=-0.2, arousal=0.4)
    mood = selectors.current_mood(session)
    assert mood.source == "face"
    assert (mood.valence, mood.arousal) == pytest.approx((-0.4, 0.3))


@pytest.mark.django_db
def test_only_plays_of_the_last_30_days_count_as_recent(patient, catalogue):  # type: ignore[no-untyped-def]
    from backend.recommendations.models import TrackFeedback

    old, new, current = make_session(patient), make_session(patient), make_session(patient)
    long_ago = timezone.now() - timezone.timedelta(days=40)
    TrackFeedback.objects.create(
        session=old, patient=patient, track=catalogue[0], kind="played", created_at=long_ago
    )
    TrackFeedback.objects.create(session=new, patient=patient, track=catalogue[1], kind="played")
    history = selectors.patient_history(patient_id=patient.pk, session_id=current.pk)
    assert history.recent == {catalogue[1].pk}
    assert history.played == frozenset()
