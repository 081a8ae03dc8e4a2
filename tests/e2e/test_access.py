"""In the browser, pages for someone else's data answer 404 (exactly like missing ones), and a
patient downloads their own data from their account page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.seed import past_session

pytestmark = pytest.mark.e2e


def test_patient_cannot_open_another_patients_page_or_session(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    other = personas["other_patient"]
    their_session = past_session(other, days_ago=1, valence=0.2, arousal=0.1)
    page = new_page()
    login(page, "pat")

    # someone else's page answers exactly like a page that does not exist: 404
    response = page.goto(f"/patients/{other.pk}/")
    assert response.status == 404
    screenshot(page, "patient-404")
    assert page.goto(f"/sessions/{their_session.pk}/").status == 404
    assert page.goto("/sessions/999999/").status == 404
    assert page.goto(f"/patients/{personas['patient'].pk}/").status == 200  # their own is fine


def test_therapist_cannot_open_an_unassigned_patient(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    other = personas["other_patient"]
    their_session = past_session(other, days_ago=1, valence=0.2, arousal=0.1)
    page = new_page()
    login(page, "ther")

    assert page.goto(f"/patients/{other.pk}/").status == 404
    screenshot(page, "therapist-404")
    assert page.goto(f"/sessions/{their_session.pk}/").status == 404
    assert page.goto("/catalogue/").status == 403  # admin pages are not for therapists
    assert page.goto(f"/patients/{personas['patient'].pk}/").status == 200


def test_signed_out_visitor_is_sent_to_sign_in_and_back(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    page = new_page()
    page.goto("/caseload/")
    assert "/login/?next=/caseload/" in page.url
    page.get_by_label("Username").fill("ther")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong username or password")
    screenshot(page, "login-error")
    login_after = page.url
    assert "/login/" in login_after
    page.get_by_label("Password").fill("a-long-e2e-password-42")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/caseload/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")
    assert page.goto("/caseload/").url.endswith("/login/?next=/caseload/")


def test_sign_in_and_navigation_work_with_the_keyboard_alone(
    new_page: Any, personas: dict[str, Any]
) -> None:
    page = new_page()
    page.goto("/login/")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")  # the MoodTune home link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("pat")
    page.keyboard.press("Tab")
    page.keyboard.type("a-long-e2e-password-42")
    page.keyboard.press("Enter")
    page.wait_for_url("**/session/")
    for _ in range(3):  # skip link, brand, then the first navigation link
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Session"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/history/")


def test_a_user_changes_their_time_zone_and_password(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    page = new_page()
    login(page, "ther")
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("combobox", name="Time zone").fill("Europe/Lisbon")
    page.get_by_role("button", name="Save time zone").click()
    page.get_by_text("Time zone saved: Europe/Lisbon.").wait_for()
    page.get_by_label("Current password").fill("a-long-e2e-password-42")
    page.get_by_label("New password (at least 8 characters)").fill("another-long-password-7")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed.").wait_for()
    screenshot(page, "account")
    therapist = personas["therapist"]
    therapist.refresh_from_db()
    assert therapist.time_zone == "Europe/Lisbon"
    assert therapist.check_password("another-long-password-7")


def test_a_patient_downloads_their_own_data_from_the_account_page(
    new_page: Any, personas: dict[str, Any]
) -> None:
    import io
    import json
    import zipfile

    past_session(personas["patient"], days_ago=1, valence=0.2, arousal=0.1)
    page = new_page()
    login(page, "pat")
    page.get_by_role("link", name="Your account").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    document = json.loads(archive.read("export.json"))
    assert document["patient"]["username"] == "pat"
    assert document["data"]["therapy.therapysession"]
