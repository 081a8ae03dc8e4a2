"""The Django admin: the admin role manages accounts and the catalogue and reads the audit
trail, but never browses mood data; other roles cannot enter it."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def admin_browser(admin_user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/assignment/",
        "/admin/catalogue/track/",
        "/admin/common/auditlog/",
    ],
)
def test_admin_role_manages_accounts_catalogue_and_audit(admin_browser, path):  # type: ignore[no-untyped-def]
    assert admin_browser.get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/therapy/therapysession/",
        "/admin/therapy/emotionreading/",
        "/admin/therapy/moodcheckin/",
        "/admin/therapy/frame/",
    ],
)
def test_admin_role_does_not_browse_mood_data(admin_browser, path):  # type: ignore[no-untyped-def]
    assert admin_browser.get(path).status_code == 403


@pytest.mark.django_db
def test_admin_index_does_not_list_therapy(admin_browser):  # type: ignore[no-untyped-def]
    page = admin_browser.get("/admin/").content.decode()
    assert "/admin/accounts/user/" in page
    assert "/admin/therapy/" not in page


@pytest.mark.django_db
def test_therapists_and_patients_cannot_enter_the_admin(therapist, patient):  # type: ignore[no-untyped-def]
    for user in (therapist, patient):
        client = Client()
        client.force_login(user)
        response = client.get("/admin/accounts/user/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
