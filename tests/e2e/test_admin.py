"""An admin in the browser: import a catalogue CSV (progress, rejected rows), search and edit a
track; manage accounts and care-team assignments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.accounts.models import Assignment, User
from tests.e2e.conftest import login
from tests.e2e.seed import songs_csv_text

pytestmark = pytest.mark.e2e


@pytest.fixture
def songs_csv(shared_data: Path, tmp_path: Path) -> Path:
    """The first 40 rows of the real Spotify songs file plus two broken rows."""
    broken = [
        {"track_id": "0000000000000000000001", "energy": "7.5"},
        {"track_id": "0000000000000000000002", "key": "not-a-key"},
    ]
    path = tmp_path / "songs.csv"
    path.write_text(songs_csv_text(shared_data, 40, broken), encoding="utf-8")
    return path


def test_admin_imports_a_csv_and_sees_the_rejected_rows(
    new_page: Any, personas: dict[str, Any], songs_csv: Path, screenshot: Any
) -> None:
    from backend.catalogue.models import Track

    page = new_page()
    login(page, "boss")
    assert page.url.endswith("/catalogue/")  # an admin lands on the catalogue
    page.get_by_label("CSV file").set_input_files(str(songs_csv))
    page.get_by_role("button", name="Import").click()
    facts = page.locator("#import-facts")
    facts.wait_for()
    rejected = page.locator("#rejected-rows tbody tr")
    assert rejected.count() == 2
    assert "energy" in rejected.nth(0).inner_text()
    assert "key" in rejected.nth(1).inner_text()
    imported = Track.objects.count()
    assert imported > 0
    expect(page.locator("#tracks-count")).to_contain_text(f"{imported} track(s)")
    page.locator("#recent-imports summary").click()
    expect(page.locator("#imports-body")).to_contain_text("songs.csv")
    screenshot(page, "1-imported")

    page.get_by_label("Search title, artist or genre").fill("Maroon 5")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("matching “Maroon 5”").wait_for()
    row = page.locator("#tracks-body tr").first
    track = Track.objects.get(pk=row.get_attribute("data-track"))
    assert track.artist == "Maroon 5"
    row.get_by_role("button", name=f"Edit {track.title}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title", exact=True).fill("Memories (edited)")
    screenshot(page, "2-edit")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("Track saved.").wait_for()
    track.refresh_from_db()
    assert track.title == "Memories (edited)"
    assert not page.js_errors


def test_admin_creates_an_account_and_assigns_a_therapist(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    page = new_page()
    login(page, "boss")
    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Role").select_option("patient")
    page.get_by_label("Initial password (at least 8 characters)").fill("a-long-new-password-1")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Account newcomer created.").wait_for()
    newcomer = User.objects.get(username="newcomer")
    assert newcomer.role == "patient"

    page.get_by_label("Therapist", exact=True).select_option(label="ther")
    page.get_by_label("Patient", exact=True).select_option(label="newcomer")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.get_by_text("Therapist assigned.").wait_for()
    assert Assignment.objects.active().filter(therapist=personas["therapist"], patient=newcomer)
    screenshot(page, "accounts")
    assert not page.js_errors


def test_admin_erases_a_patient_after_typing_the_username_again(
    new_page: Any, personas: dict[str, Any], screenshot: Any
) -> None:
    page = new_page()
    login(page, "boss")
    page.goto("/accounts/")
    page.once("dialog", lambda dialog: dialog.accept("otherpat"))
    page.get_by_role("button", name="Erase otherpat").click()
    page.get_by_text("otherpat and their data were erased.").wait_for()
    assert not User.objects.filter(username="otherpat").exists()
    assert page.get_by_role("button", name="Erase pat").is_visible()
    assert page.get_by_role("link", name="Export all data of pat (zip)").count() == 0
    screenshot(page, "erased")
