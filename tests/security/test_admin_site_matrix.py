"""Every page of the Django admin site x every role: the admin role reaches accounts, the
catalogue and the audit trail, and no mood data and no credentials anywhere; patients and
therapists never get in."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from backend.accounts.models import User
from tests.backend.conftest import make_reading, make_session

pytestmark = pytest.mark.django_db

# apps whose rows are mood data or credentials: closed to every non-superuser
CLOSED_APPS = {"therapy", "recommendations", "reports", "authtoken", "auth"}


def _admin_urls() -> list[tuple[str, str]]:
    """(app label, url) for every changelist and add page registered on the site."""
    urls = []
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls += [(model._meta.app_label, base), (model._meta.app_label, base + "add/")]
    return urls


def test_no_model_of_a_closed_app_is_even_listed_for_the_admin_role(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    index = client.get("/admin/").content.decode()
    for app in CLOSED_APPS:
        assert f"/admin/{app}/" not in index, app


@pytest.mark.parametrize("app,url", _admin_urls())
def test_every_admin_page_for_every_role(
    app: str, url: str, admin_user: User, patient: User, therapist: User
) -> None:
    make_reading(make_session(patient))
    for user in (patient, therapist):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    client = Client()
    client.force_login(admin_user)
    status = client.get(url).status_code
    if app in CLOSED_APPS:
        assert status == 403, (url, status)
    else:
        assert status in (200, 403), (url, status)  # 403: add pages of history (consent)


@pytest.mark.parametrize("app,url", [u for u in _admin_urls() if u[0] in CLOSED_APPS])
def test_the_admin_role_reaches_no_object_page_of_a_closed_app(
    app: str, url: str, admin_user: User, patient: User
) -> None:
    session = make_session(patient)
    make_reading(session)
    client = Client()
    client.force_login(admin_user)
    for pk in (session.pk, 1):
        assert client.get(f"{url}{pk}/change/").status_code in (403, 302, 404)


def test_only_accounts_catalogue_and_the_audit_trail_are_open(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    open_apps: set[str] = {app for app, url in _admin_urls() if client.get(url).status_code == 200}
    assert open_apps == {"accounts", "catalogue", "common"}
