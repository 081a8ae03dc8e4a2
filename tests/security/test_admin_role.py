"""Attacks by the admin role on mood data, each written as the attack.

The admin role manages accounts and the catalogue; it must never read readings, check-ins or
session moods, by any path: the Django admin's forms, API tokens, assignments, the data export,
forged consent, or another user's password."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from backend.accounts.models import Assignment, ConsentRecord, Role, User
from backend.common.models import AuditLog
from tests.backend.conftest import PASSWORD, make_reading, make_session

pytestmark = pytest.mark.django_db
STRONG = "a-new-and-strong-passphrase-77"


@pytest.fixture
def admin_browser(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _change_form(user: User, **overrides: Any) -> dict[str, Any]:
    form = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "role": user.role,
        "time_zone": "UTC",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    form.update(overrides)
    return form


# 1. the admin makes itself superuser, or grants itself a therapy permission


def test_admin_posting_superuser_and_permissions_on_its_own_form_gains_nothing(
    admin_browser: Client, admin_user: User, patient: User
) -> None:
    make_reading(make_session(patient))
    perm = Permission.objects.get(codename="view_emotionreading")
    url = f"/admin/accounts/user/{admin_user.pk}/change/"
    page = admin_browser.get(url).content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    admin_browser.post(
        url,
        _change_form(admin_user, is_superuser="on", is_staff="on", user_permissions=[perm.pk]),
    )
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert not admin_user.user_permissions.exists()
    assert admin_browser.get("/admin/therapy/emotionreading/").status_code == 403


def test_a_therapy_permission_row_opens_nothing_for_the_admin_role(
    admin_browser: Client, admin_user: User
) -> None:
    # even a row written some other way (a migration, a shell) is ignored: roles decide
    admin_user.user_permissions.add(Permission.objects.get(codename="view_emotionreading"))
    admin_user = User.objects.get(pk=admin_user.pk)  # drop the permission cache
    assert not admin_user.has_perm("therapy.view_emotionreading")
    assert admin_browser.get("/admin/therapy/emotionreading/").status_code == 403
    assert admin_browser.get("/admin/therapy/moodcheckin/").status_code == 403


# 2. the admin reads API tokens in the admin site


def test_admin_cannot_list_api_tokens(admin_browser: Client, therapist: User) -> None:
    token = Token.objects.create(user=therapist)
    assert admin_browser.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert admin_browser.get("/admin/authtoken/token/").status_code == 404
    for path in (
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{therapist.pk}/change/",
    ):
        assert token.key not in admin_browser.get(path).content.decode()


# 3. the admin assigns itself (or another non-therapist) to a patient


def test_admin_cannot_assign_itself_in_the_admin_site(
    admin_browser: Client, admin_user: User, patient: User
) -> None:
    response = admin_browser.post(
        "/admin/accounts/assignment/add/", {"therapist": admin_user.pk, "patient": patient.pk}
    )
    assert response.status_code == 200 and b"only therapists" in response.content
    assert not Assignment.objects.filter(therapist=admin_user).exists()


def test_admin_cannot_assign_itself_through_the_api(
    client_for: Any, admin_user: User, patient: User
) -> None:
    response = client_for(admin_user).post(
        "/api/assignments", {"therapist": admin_user.pk, "patient": patient.pk}, format="json"
    )
    assert response.status_code == 400
    assert not Assignment.objects.filter(therapist=admin_user).exists()


def test_a_leftover_assignment_gives_an_admin_no_mood_data(
    client_for: Any, admin_user: User, patient: User
) -> None:
    make_reading(make_session(patient))
    Assignment.objects.create(therapist=admin_user, patient=patient)  # forged row
    client = client_for(admin_user)
    assert client.get("/api/sessions").json()["results"] == []
    assert client.get(f"/api/reports/patients/{patient.pk}/trend").status_code in (403, 404)
    assert client.get(f"/api/reports/patients/{patient.pk}/export.csv").status_code in (403, 404)


def test_a_therapist_made_admin_loses_their_patients(
    client_for: Any, admin_user: User, therapist: User, patient: User
) -> None:
    response = client_for(admin_user).patch(
        f"/api/users/{therapist.pk}", {"role": Role.ADMIN}, format="json"
    )
    assert response.status_code == 200, response.content
    assert not Assignment.objects.active().filter(therapist=therapist).exists()
    assert AuditLog.objects.filter(action="role_change", patient=therapist).exists()
    assert client_for(User.objects.get(pk=therapist.pk)).get(
        f"/api/reports/patients/{patient.pk}/trend"
    ).status_code in (403, 404)


# 4. the admin downloads a patient's data export


def test_admin_has_no_route_to_a_patients_export(
    admin_browser: Client, client_for: Any, admin_user: User, patient: User
) -> None:
    make_reading(make_session(patient))
    assert client_for(admin_user).get(f"/api/users/{patient.pk}/export").status_code == 404
    assert client_for(admin_user).get("/api/me/export").status_code == 403
    response = admin_browser.post(
        "/admin/accounts/user/", {"action": "export_patient_data", "_selected_action": [patient.pk]}
    )
    assert response.get("Content-Type") != "application/zip"
    assert not AuditLog.objects.filter(action="data_export").exists()


# 5. the admin forges consent or deletes its withdrawal


def test_admin_cannot_add_change_or_delete_consent(admin_browser: Client, patient: User) -> None:
    record = ConsentRecord.objects.get(patient=patient)
    add = admin_browser.post(
        "/admin/accounts/consentrecord/add/",
        {"patient": patient.pk, "notice_version": "forged", "granted_at_0": "2026-01-01"},
    )
    assert add.status_code == 403
    delete = admin_browser.post(
        f"/admin/accounts/consentrecord/{record.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert list(ConsentRecord.objects.filter(patient=patient)) == [record]


# 6. the admin sets another user's password


def test_admin_password_reset_through_the_api_is_validated_audited_and_revokes_tokens(
    client_for: Any, admin_user: User, therapist: User
) -> None:
    token = Token.objects.create(user=therapist)
    client = client_for(admin_user)
    weak = client.patch(f"/api/users/{therapist.pk}", {"password": "12345678"}, format="json")
    assert weak.status_code == 400
    assert User.objects.get(pk=therapist.pk).check_password(PASSWORD)
    assert Token.objects.filter(pk=token.pk).exists()
    ok = client.patch(f"/api/users/{therapist.pk}", {"password": STRONG}, format="json")
    assert ok.status_code == 200
    assert User.objects.get(pk=therapist.pk).check_password(STRONG)
    assert not Token.objects.filter(user=therapist).exists()
    entry = AuditLog.objects.get(action="password_set")
    assert (entry.actor, entry.patient) == (admin_user, therapist)


def test_admin_password_reset_in_the_admin_site_is_validated_audited_and_revokes_tokens(
    admin_browser: Client, admin_user: User, therapist: User
) -> None:
    Token.objects.create(user=therapist)
    url = f"/admin/accounts/user/{therapist.pk}/password/"
    weak = admin_browser.post(url, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 200 and not AuditLog.objects.exists()
    admin_browser.post(url, {"password1": STRONG, "password2": STRONG, "usable_password": "true"})
    assert User.objects.get(pk=therapist.pk).check_password(STRONG)
    assert not Token.objects.filter(user=therapist).exists()
    assert AuditLog.objects.filter(action="password_set", actor=admin_user).count() == 1
