"""A therapist in the browser: caseload, a patient's page with trend charts, a CSV export,
and one session in detail."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.seed import past_session

pytestmark = pytest.mark.e2e


@pytest.fixture
def history(personas: dict[str, Any]) -> list[Any]:
    """Four sessions for `pat`, mood falling from +0.5 to -0.3 over three weeks."""
    moods = ((20, 0.5), (10, 0.2), (3, -0.1), (1, -0.3))
    return [past_session(personas["patient"], days_ago=d, valence=v, arousal=0.2) for d, v in moods]


def test_therapist_opens_a_patient_from_the_caseload_and_exports_csv(
    new_page: Any, personas: dict[str, Any], history: list[Any], screenshot: Any
) -> None:
    page = new_page()
    login(page, "ther")
    assert page.url.endswith("/caseload/")  # a therapist lands on the caseload
    row = page.locator(f"tr[data-patient='{personas['patient'].pk}']")
    row.get_by_text("valence falling").wait_for()
    assert "falling" in row.inner_text()
    assert page.locator(f"tr[data-patient='{personas['other_patient'].pk}']").count() == 0
    screenshot(page, "1-caseload")

    row.get_by_role("link", name="pat").click()
    page.wait_for_url(f"**/patients/{personas['patient'].pk}/")
    page.locator("#trend-chart svg path").first.wait_for()
    page.locator("#compare-chart svg circle").first.wait_for()
    assert page.locator("#sessions-body tr").count() == len(history)
    assert "“lighter”" in page.locator("#sessions-body").inner_text()
    page.get_by_role("link", name="Readings (CSV)").wait_for()
    screenshot(page, "2-patient")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Readings (CSV)").click()
    text = Path(download_info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(s.readings.count() for s in history)
    assert {r["emotion"] for r in rows} == {"happy"}
    assert {int(r["session_id"]) for r in rows} == {s.pk for s in history}


def test_therapist_reads_one_session_and_saves_notes(
    new_page: Any, personas: dict[str, Any], history: list[Any], screenshot: Any
) -> None:
    session = history[-1]
    page = new_page()
    login(page, "ther")
    page.goto(f"/sessions/{session.pk}/")
    page.locator("#timeline-chart svg path").first.wait_for()
    checkins = page.locator("#checkins")
    checkins.get_by_text("“tense”", exact=False).wait_for()
    assert "“lighter”" in checkins.inner_text()
    assert "happy" in page.locator("#emotions").inner_text()
    page.get_by_label("Notes on this session").fill("Responded well to slower tracks.")
    page.get_by_role("button", name="Save notes").click()
    page.get_by_text("Notes saved.").wait_for()
    session.refresh_from_db()
    assert session.therapist_notes == "Responded well to slower tracks."
    screenshot(page, "session")
    assert not page.js_errors


def test_patient_sees_their_own_history(
    new_page: Any, personas: dict[str, Any], history: list[Any], screenshot: Any
) -> None:
    page = new_page(viewport={"width": 390, "height": 844})  # a phone
    login(page, "pat")
    page.get_by_role("link", name="History").click()
    page.locator("#trend-chart svg path").first.wait_for()
    assert page.locator("#sessions-body tr").count() == len(history)
    assert page.locator("#exports").count() == 0  # exports are on the therapist's page only
    screenshot(page, "phone")
    assert not page.js_errors


def test_invited_patient_creates_an_account_and_joins_the_caseload(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    therapist = new_page()
    login(therapist, "ther")
    therapist.get_by_label("Patient's email").fill("sam@example.org")
    therapist.get_by_role("button", name="Create invitation link").click()
    link = therapist.get_by_label("Invitation link")
    link.wait_for()
    url = link.input_value()
    path, _, token = url.partition("#")
    assert path.endswith("/invite/") and token, "the token rides in the fragment, not the path"

    invited = new_page()  # the patient's own browser
    invited.goto(url)
    invited.get_by_label("Username").fill("sam")
    invited.get_by_label("Password", exact=True).fill("sams-own-password-1")
    invited.get_by_label("Password again").fill("sams-own-password-1")
    screenshot(invited, "invite")
    invited.get_by_role("button", name="Create account").click()
    invited.wait_for_url("**/session/")  # signed in as the new patient
    expect(invited.get_by_role("button", name="I consent to emotion analysis")).to_be_visible()

    invited.goto(url)  # the link works once
    invited.get_by_text("This invitation link is invalid").wait_for()
    therapist.reload()
    therapist.get_by_role("link", name="sam", exact=True).wait_for()
