"""Attacks on sign-in: guessing through the admin login, resetting the
lockout with a case variant, login CSRF, open redirects, and tokens that outlive their use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backend.accounts.models import User
from tests.backend.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _api_login(client: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(
        "/api/auth/login", {"username": username, "password": password}, format="json", **extra
    )


# 7. password guessing through /admin/login/


def test_admin_login_locks_out_a_guesser_even_with_the_right_password(
    admin_user: User, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    client = Client()
    for _ in range(3):
        page = client.post("/admin/login/", {"username": "boss", "password": "guess"})
        assert page.status_code == 200 and "_auth_user_id" not in client.session
    right = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert right.status_code == 200 and b"too many failed logins" in right.content
    assert "_auth_user_id" not in client.session


def test_admin_and_api_logins_share_one_lockout(admin_user: User, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2
    for _ in range(2):
        Client().post("/admin/login/", {"username": "boss", "password": "guess"})
    assert _api_login(APIClient(), "boss").status_code == 429


# 8. a case variant of a username resets (or dodges) the lockout


def test_renaming_oneself_to_a_case_variant_of_another_user_is_refused(
    client_for: Any, patient: User, therapist: User
) -> None:
    response = client_for(patient).patch("/api/me", {"username": "THER"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "username_taken"
    assert User.objects.get(pk=patient.pk).username == "pat"


def test_the_database_refuses_a_case_variant_username(therapist: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="Ther", role="patient")


def test_admin_cannot_create_or_rename_to_a_case_variant(
    client_for: Any, admin_user: User, patient: User, therapist: User
) -> None:
    client = client_for(admin_user)
    rename = client.patch(f"/api/users/{patient.pk}", {"username": "Ther"}, format="json")
    assert rename.status_code == 400
    create = client.post(
        "/api/users",
        {"username": "PAT", "password": "another-long-password-9", "role": "patient"},
        format="json",
    )
    assert create.status_code == 400


def test_a_case_variant_sign_in_counts_against_the_same_lockout(
    therapist: User, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2
    client = APIClient()
    assert _api_login(client, "ther", "guess").status_code == 401
    assert _api_login(client, "THER", "guess").status_code == 401
    assert _api_login(client, "Ther").status_code == 429


def test_throttles_use_redis_when_it_is_configured() -> None:
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.REDIS_URL:
        assert backend == "backend.common.cache.FailOpenRedisCache"
        assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    else:
        assert backend == "django.core.cache.backends.locmem.LocMemCache"


# 9. login CSRF and the open redirect after sign-in


def test_a_cross_site_form_post_cannot_sign_anyone_in(patient: User) -> None:
    client = APIClient()
    form = client.post("/api/auth/login", {"username": "pat", "password": PASSWORD})
    assert form.status_code == 415  # multipart/urlencoded: what an HTML form on evil.com sends
    plain = client.post(
        "/api/auth/login",
        f'{{"username": "pat", "password": "{PASSWORD}"}}',
        content_type="text/plain",
    )
    assert plain.status_code == 415
    assert "sessionid" not in client.cookies


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_ORIGIN": "https://evil.example"}, {"HTTP_SEC_FETCH_SITE": "cross-site"}],
)
def test_a_cross_origin_json_sign_in_is_refused(patient: User, headers: dict[str, str]) -> None:
    response = _api_login(APIClient(), "pat", **headers)
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_a_same_origin_browser_sign_in_still_works(patient: User) -> None:
    response = _api_login(
        APIClient(), "pat", HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.com",
        "//evil.com",
        "https://evil.com/",
        "/\\/evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
    ],
)
def test_the_login_page_never_hands_an_off_site_next_to_its_script(target: str) -> None:
    page = Client().get("/login/", {"next": target}).content.decode()
    assert 'data-next="/"' in page


def test_the_login_page_keeps_a_local_next() -> None:
    page = Client().get("/login/", {"next": "/history/"}).content.decode()
    assert 'data-next="/history/"' in page


# 10. tokens that never expire, survive sign-out or a password change


def test_an_expired_token_is_refused_and_deleted(patient: User) -> None:
    token = Token.objects.create(user=patient)
    Token.objects.filter(pk=token.pk).update(
        created=timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS + 1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/me").status_code in (401, 403)
    assert not Token.objects.filter(pk=token.pk).exists()


def test_a_fresh_token_works_and_sign_in_replaces_an_expired_one(patient: User) -> None:
    old = Token.objects.create(user=patient)
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=365))
    key = _api_login(APIClient(), "pat").json()["token"]
    assert key != old.key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me").status_code == 200


def test_sign_out_revokes_the_token(patient: User) -> None:
    client = APIClient()
    key = _api_login(client, "pat").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post("/api/auth/logout").status_code == 204
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Token {key}").status_code in (401, 403)


def test_any_password_change_revokes_tokens(patient: User) -> None:
    token = Token.objects.create(user=patient)
    patient.set_password("changed-from-a-shell-42")  # not through the API at all
    patient.save()
    assert not Token.objects.filter(pk=token.pk).exists()
