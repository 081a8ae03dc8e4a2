"""Tracks API: reading (active only, search, filter, paginate), admin edits with range
checks and recomputed mood, deactivation, CSV export that re-imports."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from backend.catalogue import services
from backend.catalogue.models import Track

FEATURES: dict[str, Any] = dict(
    valence=0.6,
    energy=0.7,
    danceability=0.6,
    acousticness=0.1,
    instrumentalness=0.0,
    speechiness=0.05,
    liveness=0.1,
    loudness=-6.0,
    tempo=120.0,
    mode=1,
    key=5,
)


def make_track(external_id: str, **fields: Any) -> Track:
    values = {
        "title": f"Song {external_id}",
        "artist": f"Artist {external_id}",
        "duration_ms": 200_000,
        **FEATURES,
        **fields,
    }
    return services.create_track(external_id=external_id, **values)


def make_catalogue(size: int, seed: int = 0) -> list[Track]:
    """Tracks spread over the feature space, each by its own artist."""
    rng = np.random.default_rng(seed)
    return [
        make_track(
            f"t{i}",
            valence=float(rng.uniform(0.02, 0.98)),
            energy=float(rng.uniform(0.02, 0.98)),
            loudness=float(rng.uniform(-25, -2)),
            acousticness=float(rng.uniform(0, 1)),
            instrumentalness=float(rng.uniform(0, 0.9)),
            tempo=float(rng.uniform(70, 170)),
        )
        for i in range(size)
    ]


@pytest.mark.django_db
def test_patients_see_active_tracks_and_admins_see_all(client_for, patient, admin_user) -> None:  # type: ignore[no-untyped-def]
    make_track("on")
    off = make_track("off")
    services.set_active(tracks=Track.objects.filter(pk=off.pk), active=False)
    seen = client_for(patient).get("/api/tracks").json()["results"]
    assert [t["external_id"] for t in seen] == ["on"]
    assert client_for(patient).get(f"/api/tracks/{off.pk}").status_code == 404
    every = client_for(admin_user).get("/api/tracks").json()["results"]
    assert {t["external_id"] for t in every} == {"on", "off"}
    inactive = client_for(admin_user).get("/api/tracks?active=false").json()["results"]
    assert [t["external_id"] for t in inactive] == ["off"]


@pytest.mark.django_db
def test_search_and_filters_narrow_the_list(client_for, patient) -> None:  # type: ignore[no-untyped-def]
    make_track("a", title="Blue Monday", genre="rock")
    make_track("b", title="Yellow", genre="pop")
    calm = make_track(
        "c",
        valence=0.1,
        energy=0.05,
        acousticness=0.95,
        instrumentalness=0.9,
        loudness=-28.0,
        tempo=70.0,
    )
    client = client_for(patient)
    assert [t["external_id"] for t in client.get("/api/tracks?q=monday").json()["results"]] == ["a"]
    assert [t["external_id"] for t in client.get("/api/tracks?genre=pop").json()["results"]] == [
        "b"
    ]
    calm_ids = [t["id"] for t in client.get("/api/tracks?mood_region=calm").json()["results"]]
    assert calm_ids == [calm.pk]
    page = client.get("/api/tracks?ordering=-title").json()
    assert page["count"] == 3 and page["results"][0]["title"] == "Yellow"


@pytest.mark.django_db
def test_admin_creates_a_track_by_hand_and_gets_its_mood(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    body = {"external_id": "hand1", "title": "Typed in", "duration_ms": 180000, **FEATURES}
    response = client_for(admin_user).post("/api/tracks", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["mood_region"] in ("happy", "energetic")
    assert created["mood_valence"] == pytest.approx(0.2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("valence", 1.5), ("energy", -0.1), ("tempo", 400), ("key", 12), ("loudness", -90)],
)
def test_out_of_range_features_are_refused(client_for, admin_user, field, value) -> None:  # type: ignore[no-untyped-def]
    track = make_track("r1")
    response = client_for(admin_user).patch(
        f"/api/tracks/{track.pk}", {field: value}, format="json"
    )
    assert response.status_code == 400
    assert field in str(response.json()["error"])
    track.refresh_from_db()
    assert getattr(track, field) == FEATURES[field]


@pytest.mark.django_db
def test_correcting_features_moves_the_track_on_the_mood_plane(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    track = make_track("fix")
    response = client_for(admin_user).patch(
        f"/api/tracks/{track.pk}",
        {"energy": 0.05, "loudness": -30, "acousticness": 0.95, "instrumentalness": 0.9},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["mood_arousal"] < track.mood_arousal


@pytest.mark.django_db
def test_delete_deactivates_rather_than_removes(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    track = make_track("gone")
    assert client_for(admin_user).delete(f"/api/tracks/{track.pk}").status_code == 204
    track.refresh_from_db()
    assert track.is_active is False


@pytest.mark.django_db
def test_export_is_a_csv_that_imports_back_unchanged(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    make_catalogue(5)
    response = client_for(admin_user).get("/api/tracks/export")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    data = b"".join(response.streaming_content)
    assert data.splitlines()[0].startswith(b"track_id,track_name,track_artist")
    before = list(Track.objects.order_by("id").values_list("external_id", "valence", "mode"))
    job = services.import_tracks(stream=io.BytesIO(data), filename="export.csv", size=len(data))
    assert (job.created_count, job.updated_count, job.rejected_count) == (0, 5, 0)
    after = list(Track.objects.order_by("id").values_list("external_id", "valence", "mode"))
    assert after == before


@pytest.mark.django_db
def test_an_uploaded_audio_file_streams_to_signed_in_users(client_for, admin_user, patient) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    track = make_track("local1")
    audio = SimpleUploadedFile("take.ogg", b"OggS" + b"\x00" * 100, "audio/ogg")
    response = client_for(admin_user).patch(
        f"/api/tracks/{track.pk}", {"audio_file": audio}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["has_audio"] is True
    played = client_for(patient).get(f"/api/tracks/{track.pk}/audio")
    assert played.status_code == 200
    assert b"".join(played.streaming_content).startswith(b"OggS")
    assert client_for(None).get(f"/api/tracks/{track.pk}/audio").status_code in (401, 403)


@pytest.mark.django_db
def test_audio_uploads_must_be_audio_files(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    track = make_track("local2")
    script = SimpleUploadedFile("x.exe", b"MZ" + b"\x00" * 100, "application/octet-stream")
    response = client_for(admin_user).patch(
        f"/api/tracks/{track.pk}", {"audio_file": script}, format="multipart"
    )
    assert response.status_code == 400
    assert client_for(admin_user).get(f"/api/tracks/{track.pk}/audio").status_code == 404
