"""A patient's session in the browser: consent, check-in, webcam frames analysed by a real
worker, live mood and playlist, closing check-in, summary; and the photo alternative."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession
from tests.e2e.conftest import FACES, login, worker_log_tail
from tests.e2e.seed import import_songs, make_reading
from tests.e2e.video import face_frame

pytestmark = pytest.mark.e2e


def slide(page: Any, label: str, steps: int) -> None:
    """Move a slider with the keyboard (each arrow press is one 0.1 step)."""
    slider = page.get_by_label(label, exact=True)
    slider.focus()
    for _ in range(abs(steps)):
        slider.press("ArrowRight" if steps > 0 else "ArrowLeft")


def start_session(page: Any, *, word: str) -> TherapySession:
    before = page.locator("#before-checkin")
    slide(before, "How pleasant do you feel?", -3)
    slide(before, "How energetic do you feel?", 4)
    before.get_by_label("One word for your mood").fill(word)
    page.get_by_label("Goal for this session").select_option("calm")
    page.get_by_role("button", name="Start session").click()
    page.get_by_role("button", name="End session").wait_for()
    return TherapySession.objects.get()


def test_patient_runs_a_session_end_to_end(
    new_page: Any,
    personas: dict[str, Any],
    screenshot: Any,
    celery_worker: Any,
    web_server: Any,  # the production server: uvicorn, the ASGI app, live events over Redis
    shared_data: Path,
) -> None:
    from backend.recommendations.models import TrackFeedback

    assert import_songs(shared_data, 300) > 200
    page = new_page()
    page.route("https://open.spotify.com/**", lambda route: route.fulfill(body="<html></html>"))
    login(page, "newpat")
    assert page.url.endswith("/session/")  # a patient lands on the session page
    consent = page.get_by_role("button", name="I consent to emotion analysis")
    consent.wait_for()
    assert page.get_by_text("these estimates are approximate", exact=False).is_visible()
    assert page.get_by_text("Pictures are not kept").is_visible()
    screenshot(page, "1-consent")
    consent.click()
    page.get_by_text("You consented to emotion analysis").wait_for()

    session = start_session(page, word="tense")
    before = MoodCheckIn.objects.get(session=session, phase="before")
    assert (before.valence, before.arousal, before.word) == (-0.3, 0.4, "tense")
    assert page.locator("#camera-off").is_visible()
    # the first playlist starts from the check-in, before any frame is analysed
    tracks = page.locator("#playlist li")
    tracks.first.wait_for()
    assert (
        tracks.first.get_by_role("link", name="Listen")
        .get_attribute("href")
        .startswith("https://open.spotify.com/track/")
    )
    screenshot(page, "2-camera-off")

    page.get_by_role("button", name="Start camera").click()
    page.get_by_role("button", name="Stop camera").wait_for()
    # the fake camera shows FER-2013 faces; the worker detects and classifies them
    try:
        page.locator(".mood-dot").wait_for(timeout=90_000)
    except PlaywrightTimeout:
        pytest.fail(f"no mood reading within 90 s; {worker_log_tail(celery_worker)}")
    emotion = page.locator("#emotion").text_content()
    assert emotion in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    # The camera stops before the patient reacts to tracks: a new mood rebuilds the playlist
    # (a fresh draw of the learning recommender each time), which would swap rows under the
    # clicks. Once the last frame is analysed, the page's refresh (at most every 3 s) settles.
    readings = EmotionReading.objects.filter(session=session, is_primary=True)
    deadline = time.monotonic() + 60
    while readings.count() < 3:  # enough for the therapist's timeline to draw a line
        assert time.monotonic() < deadline, worker_log_tail(celery_worker)
        time.sleep(0.2)
    page.get_by_role("button", name="Stop camera").click()
    assert page.locator("#camera-off").is_visible()
    pending = Frame.objects.filter(session=session, status__in=["queued", "processing"])
    # the backlog the camera left gets a minute of its own: on a slow, busy machine the wait
    # for the first readings above can take most of the first one
    deadline = time.monotonic() + 60
    while pending.exists():
        assert time.monotonic() < deadline, worker_log_tail(celery_worker)
        time.sleep(0.2)
    page.wait_for_timeout(4_000)
    title = tracks.first.locator("strong").inner_text()
    like = page.get_by_role("button", name=f"Like: {title}", exact=True)
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".goal-ring")).to_have_count(1)  # the goal's point on the plane
    liked = TrackFeedback.objects.get(session__patient=personas["patient_new"], kind="liked")
    assert liked.track.title == title
    skipped = tracks.nth(1).locator("strong").inner_text()
    page.get_by_role("button", name=f"Skip: {skipped}", exact=True).click()
    expect(page.get_by_role("button", name=f"Skip: {skipped}", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    page.get_by_role("button", name=f"Play: {title}", exact=True).click()
    page.locator("#player-embed iframe").wait_for()  # Spotify's player (routed to a stub)
    screenshot(page, "3-live")

    # meanwhile the therapist follows the running session from their side
    watcher = new_page()
    login(watcher, "ther")
    watcher.goto(f"/sessions/{session.pk}/")
    watcher.get_by_text("This session is still running").wait_for()
    # a line of the timeline (a flat one is zero pixels high: attached, not "visible")
    watcher.locator("#timeline-chart svg path").first.wait_for(state="attached")
    assert "without a face" in watcher.locator("#timeline-summary").inner_text()
    expect(watcher.locator("#playlist")).to_contain_text(title)  # the track playing
    screenshot(watcher, "3-therapist-live")
    watcher.context.close()

    frames = Frame.objects.filter(session=session)
    assert frames.count() >= 2
    assert all(f.width <= 640 and f.height <= 480 for f in frames)
    assert readings.exists()
    analysed = frames.exclude(status__in=["queued", "processing"])
    assert analysed.exists() and not any(f.image for f in analysed)  # frames are not kept

    page.get_by_role("button", name="End session").click()
    after = page.locator("#after-checkin")
    after.get_by_label("How pleasant do you feel?", exact=True).wait_for()
    slide(after, "How pleasant do you feel?", 5)
    after.get_by_label("One word for your mood").fill("calmer")
    page.get_by_role("button", name="Save and see summary").click()
    summary = page.locator("#summary")
    summary.get_by_text("You said after").wait_for()
    assert "“calmer”" in summary.inner_text()
    screenshot(page, "4-summary")
    session.refresh_from_db()
    assert session.ended_at is not None
    assert MoodCheckIn.objects.get(session=session, phase="after").valence == 0.5
    # live results came over the server-sent events stream, not the polling fallback
    assert any(f"/api/sessions/{session.pk}/events" in url for url in page.requested)
    assert not any("/readings?primary=1&page_size=200" in url for url in page.requested)
    assert not page.js_errors


def test_patient_can_send_a_photo_instead_of_the_webcam(
    new_page: Any, personas: dict[str, Any], screenshot: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "me.png"
    cv2.imwrite(str(photo), cv2.resize(face_frame(Path(_sample(FACES[0]))), (1600, 1200)))
    page = new_page(viewport={"width": 390, "height": 844})  # a phone
    login(page, "pat")
    start_session(page, word="ok")
    page.get_by_label("Or upload a photo instead").set_input_files(str(photo))
    page.get_by_text("Photo sent for analysis.").wait_for()
    frame = Frame.objects.get(session__patient=personas["patient"])
    assert (frame.width, frame.height) == (640, 480)  # resized in the browser before upload
    screenshot(page, "phone-photo-sent")


def test_withdrawing_consent_turns_the_camera_off(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    page = new_page()
    login(page, "pat")
    start_session(page, word="fine")
    page.get_by_role("button", name="Start camera").click()
    page.get_by_role("button", name="Stop camera").wait_for()
    page.get_by_role("button", name="Withdraw consent").click()
    page.get_by_text("You have not consented to emotion analysis").wait_for()
    assert page.locator("#camera-off").is_visible()
    assert page.get_by_role("button", name="Start camera").is_disabled()
    assert not personas["patient"].has_active_consent()
    screenshot(page, "withdrawn")


def _sample(name: str) -> str:
    from tests.conftest import SHARED_DATA

    return str(SHARED_DATA / "fer2013" / "sample" / f"{name}.jpg")


def test_without_the_event_stream_the_page_polls_for_readings(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    """Where /events is unavailable (a proxy that buffers, an old server) the session page
    falls back to polling the readings and still shows the detected emotion."""
    page = new_page()
    page.route("**/events*", lambda route: route.fulfill(status=404, body="not here"))
    login(page, "pat")
    session = start_session(page, word="flat")
    reading = make_reading(session, emotion="sad", valence=-0.6, arousal=-0.3)
    TherapySession.objects.filter(pk=session.pk).update(
        mood_valence=-0.6, mood_arousal=-0.3, mood_updated_at=reading.captured_at
    )
    expect(page.locator("#emotion")).to_have_text("sad")
    page.locator(".mood-dot").wait_for()
    assert "unpleasant, calm" in page.locator("#mood-words").inner_text()
    assert any("/readings?primary=1&page_size=200" in url for url in page.requested)
    screenshot(page, "polling")
