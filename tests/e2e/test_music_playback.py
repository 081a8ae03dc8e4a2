"""Music in the browser: the session page's player records what was heard (local audio in an
<audio> element, Spotify tracks in the embed player), the therapist reads the played stretches,
and the patient page says what works and carries the therapist's learning switch."""

from __future__ import annotations

import io
import math
import struct
import time
import wave
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from backend.catalogue import services as catalogue
from backend.catalogue.models import Track
from backend.recommendations import services as recommendations
from backend.recommendations.models import (
    Listening,
    PlaybackEvent,
    ResponseProfile,
    TrackFeedback,
)
from tests.e2e.conftest import login
from tests.e2e.seed import heard_track, past_session
from tests.e2e.test_patient_session import start_session

pytestmark = pytest.mark.e2e

CLIP_MS = 3_000
FEATURES: dict[str, Any] = dict(
    danceability=0.5,
    acousticness=0.5,
    instrumentalness=0.2,
    speechiness=0.05,
    liveness=0.1,
    loudness=-10.0,
    tempo=100.0,
    mode=1,
    key=5,
)


def tone_wav(ms: int = CLIP_MS, rate: int = 8_000) -> bytes:
    """A quiet 440 Hz tone: mono, 16-bit, `ms` long."""
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(rate * ms // 1000)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def catalogue_of(size: int, *, audio: bool, duration_ms: int = CLIP_MS) -> list[Track]:
    """Tracks over the mood plane, each by its own artist; with a local audio file each (the
    CLIP_MS tone), or as Spotify tracks (22-character ids)."""
    wav = tone_wav() if audio else b""
    tracks = []
    for i in range(size):
        track = catalogue.create_track(
            external_id=f"local-{i}" if audio else f"{i:02d}" + "x" * 20,
            title=f"Song {i}",
            artist=f"Artist {i}",
            duration_ms=duration_ms,
            valence=0.1 + 0.8 * (i % 4) / 3,
            energy=0.1 + 0.8 * (i // 4) / max(1, (size - 1) // 4),
            **FEATURES,
        )
        if audio:
            track.audio_file.save(f"song-{i}.wav", ContentFile(wav))
        tracks.append(track)
    return tracks


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll the database until `check()` is truthy (the page posts events asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out waiting for the server to record it"
        time.sleep(0.1)
    return result


def events(session: Any) -> list[tuple[int, str, int]]:
    rows = PlaybackEvent.objects.filter(session=session).order_by("at", "id")
    return list(rows.values_list("item_id", "kind", "position_ms"))


def test_the_player_plays_the_playlist_and_records_what_was_heard(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    catalogue_of(8, audio=True)
    page = new_page()
    login(page, "pat")
    session = start_session(page, word="tense")
    rows = page.locator("#playlist li")
    rows.nth(2).wait_for()
    first = rows.first.locator("strong").inner_text()
    now = page.locator("#now-playing")
    expect(now).to_have_text(f"Next up: {first} — Artist {first.removeprefix('Song ')}")
    assert page.locator("#playlist").get_by_role("link").count() == 0  # no Spotify for these

    page.get_by_role("button", name="Play", exact=True).click()
    expect(now).to_contain_text(f"Now playing: {first}")
    (item, kind, position), *_ = eventually(lambda: events(session))
    assert kind == "started" and position < 300
    # a rebuilt playlist (a dislike further down) re-renders the list, not the player
    last = rows.last.locator("strong").inner_text()
    page.get_by_role("button", name=f"Dislike: {last}", exact=True).click()
    expect(page.get_by_role("button", name=f"Dislike: {last}", exact=True)).to_have_count(0)
    assert page.evaluate("(a => !a.paused || a.ended)(document.getElementById('player-audio'))")
    expect(page.locator("#playlist li[aria-current='true'] strong")).to_have_text(first)
    screenshot(page, "1-playing")

    # the 3-second clip ends; the queue moves on by itself
    expect(now).not_to_contain_text(first, timeout=10_000)
    eventually(lambda: (item, "finished", CLIP_MS) in events(session))
    heard = [e for e in events(session) if e[0] == item]
    assert [k for _, k, _ in heard] == ["started", "finished"]
    assert heard[1][2] == CLIP_MS  # finished at the end of the track
    stretch = Listening.objects.get(item_id=item)
    assert stretch.outcome == "finished" and stretch.listened_ms > 0
    started = eventually(lambda: [e for e in events(session) if e[1] == "started" and e[0] != item])
    next_item = started[0][0]
    next_title = PlaybackEvent.objects.filter(item_id=next_item).first().track.title
    assert next_title not in (first, last)  # neither the one heard nor the one disliked
    expect(now).to_contain_text(f"Now playing: {next_title}")

    page.wait_for_function("document.getElementById('player-audio').currentTime > 0.5")
    page.get_by_role("button", name="Skip track").click()
    skipped = eventually(
        lambda: [e for e in events(session) if e[0] == next_item and e[1] == "skipped"]
    )
    assert 500 <= skipped[0][2] <= CLIP_MS
    assert Listening.objects.get(item_id=next_item).outcome == "skipped"
    # the third track starts; ending the session stops it and records where it stood
    eventually(lambda: len([e for e in events(session) if e[1] == "started"]) == 3)
    page.get_by_role("button", name="End session").click()
    page.locator("#after-checkin").wait_for()
    assert page.evaluate("document.getElementById('player-audio').paused")
    assert events(session)[-1][1] == "paused"
    assert not page.js_errors


def test_a_spotify_track_plays_in_the_embed_player(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    catalogue_of(6, audio=False)
    page = new_page()
    # nothing leaves the machine: Spotify's player answers with an empty page
    page.route("https://open.spotify.com/**", lambda route: route.fulfill(body="<html></html>"))
    login(page, "pat")
    session = start_session(page, word="flat")
    row = page.locator("#playlist li").first
    row.wait_for()
    track = Track.objects.get(pk=row.get_attribute("data-track"))
    listen = row.get_by_role("link", name="Listen on Spotify")
    assert listen.get_attribute("href") == f"https://open.spotify.com/track/{track.external_id}"

    row.get_by_role("button", name=f"Play: {track.title}").click()
    frame = page.locator("#player-embed iframe")
    expect(frame).to_have_attribute(
        "src", f"https://open.spotify.com/embed/track/{track.external_id}"
    )
    assert frame.get_attribute("title") == f"Spotify player: {track.title}"
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_hidden()  # the embed's own
    (item, kind, position), *_ = eventually(lambda: events(session))
    assert (kind, position) == ("started", 0)
    screenshot(page, "spotify")

    # the patient rates their mood with the track: a check-in that attribution counts
    checkin = page.locator("#track-rating")
    expect(checkin).to_contain_text(f"How do you feel with “{track.title}”?")
    checkin.locator("summary").click()
    page.locator("#track-valence").fill("0.4")
    page.locator("#track-arousal").fill("-0.3")
    page.get_by_role("button", name="Save", exact=True).click()
    rated = eventually(
        lambda: TrackFeedback.objects.filter(session=session, valence__isnull=False).first()
    )
    assert (rated.track_id, rated.valence, rated.arousal) == (track.pk, 0.4, -0.3)

    # the page cannot see inside the embed: "Next track" says it was heard to the end
    time.sleep(0.3)
    page.get_by_role("button", name="Next track").click()
    finished = eventually(lambda: [e for e in events(session) if e[1] == "finished"])
    assert finished[0][0] == item and 300 <= finished[0][2] <= CLIP_MS  # wall clock, capped
    eventually(lambda: len([e for e in events(session) if e[1] == "started"]) == 2)
    assert not page.js_errors


def test_the_therapist_reads_what_was_heard_and_what_works(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    patient = personas["patient"]
    calm, bright = catalogue_of(2, audio=False, duration_ms=200_000)
    session = past_session(patient, days_ago=2, valence=-0.2, arousal=0.3, goal="calm")
    heard_track(
        session, calm, minutes_in=1, listened_ms=185_000, effect=(0.12, -0.05, 0.08), faces=7
    )
    heard_track(session, bright, minutes_in=5, listened_ms=42_000, outcome="skipped")
    recommendations.rebuild_profile(patient_id=patient.pk)

    page = new_page()
    login(page, "ther")
    page.goto(f"/sessions/{session.pk}/")
    played = page.locator("#playlist li")
    expect(played).to_have_count(2)
    assert played.nth(0).inner_text().split("\n") == [
        "Song 0 — Artist 0",
        "finished",
        "listened 3:05",
        "pleasantness +0.12, energy -0.05; toward the goal +0.08 (7 faces)",
    ]
    assert played.nth(1).inner_text().split("\n")[1:] == [
        "skipped",
        "listened 0:42",
        "not enough faces to tell",
    ]
    expect(page.locator("#playlist-status")).to_have_text("2 tracks, 3:47 of listening in total.")
    screenshot(page, "1-session")

    page.goto(f"/patients/{patient.pk}/")
    works = page.locator("#what-works")
    expect(works.locator("#works-notice")).to_contain_text("not a diagnosis")
    calmer = works.locator("[data-goal='calm']")
    expect(calmer.get_by_role("heading", name="Calmer")).to_be_visible()
    expect(calmer.locator("tbody tr")).to_have_count(1)
    assert f"{calm.title} — {calm.artist}" in calmer.locator("tbody").inner_text()
    assert "+0.08" in calmer.locator("tbody").inner_text()
    # one play is not a pattern: no feature is called clear, the estimates are folded away
    expect(calmer).to_contain_text("No audio feature stands out yet")
    calmer.get_by_text("Leading estimates").click()
    assert calmer.locator("details ul li").count() > 0  # features in words, with intervals
    assert "90% interval" in calmer.locator("details ul").inner_text()
    expect(works.locator("#works-basis")).to_contain_text("Based on 1 session")
    switch = page.get_by_label("Learn from this patient's responses")
    expect(switch).to_be_enabled()
    assert switch.is_checked()
    switch.uncheck()
    expect(page.locator("#learning-status")).to_contain_text("Learning is off")
    assert not ResponseProfile.objects.get(patient=patient).learning_enabled
    screenshot(page, "2-what-works")

    own = new_page()
    login(own, "pat")
    own.goto("/history/")
    expect(own.locator("#works-notice")).to_be_visible()
    assert own.get_by_label("Learn from this patient's responses").count() == 0
    assert not page.js_errors and not own.js_errors


def test_no_measured_responses_yet(new_page: Any, personas: dict[str, Any]) -> None:
    page = new_page()
    login(page, "ther")
    page.goto(f"/patients/{personas['patient'].pk}/")
    expect(page.locator("#works-goals")).to_have_text("No measured responses yet.")


def test_local_audio_streams_and_plays_under_the_production_server(
    new_page: Any, personas: dict[str, Any], web_server: Any
) -> None:
    """The same player against uvicorn and the ASGI app: the audio endpoint streams the file,
    Chromium plays it to its end, the queue moves on."""
    catalogue_of(8, audio=True)
    page = new_page()
    login(page, "pat")
    session = start_session(page, word="tense")
    page.locator("#playlist li").nth(2).wait_for()
    page.get_by_role("button", name="Play", exact=True).click()
    (item, kind, position), *_ = eventually(lambda: events(session))
    assert kind == "started" and position < 300
    finished = eventually(lambda: [e for e in events(session) if e[1] == "finished"], 15)
    assert finished[0][0] == item and finished[0][2] == CLIP_MS
    eventually(lambda: len([e for e in events(session) if e[1] == "started"]) == 2)
    assert Listening.objects.get(item_id=item).listened_ms > 0
    assert not page.js_errors
