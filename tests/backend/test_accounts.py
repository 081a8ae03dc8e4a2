"""Login (session + token), logout, password change, admin account creation, therapist
invitations, consent, assignments over time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts import services
from backend.accounts.models import Assignment, Invitation, User
from tests.backend.conftest import PASSWORD


@pytest.mark.django_db
def test_login_starts_a_session_and_returns_a_working_token(patient):  # type: ignore[no-untyped-def]
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"username": "pat", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "patient"
    assert client.get("/api/me").json()["username"] == "pat"  # session cookie works

    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert token_client.get("/api/me").json()["username"] == "pat"


@pytest.mark.django_db
def test_wrong_password_is_401_with_clear_message(patient):  # type: ignore[no-untyped-def]
    response = APIClient().post(
        "/api/auth/login", {"username": "pat", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "wrong username or password"


@pytest.mark.django_db
def test_malformed_json_login_is_400_not_500(patient):  # type: ignore[no-untyped-def]
    response = APIClient().post("/api/auth/login", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.django_db
def test_logout_ends_session_and_revokes_token(patient):  # type: ignore[no-untyped-def]
    client = APIClient()
    token = client.post(
        "/api/auth/login", {"username": "pat", "password": PASSWORD}, format="json"
    ).json()["token"]
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me").status_code in (401, 403)
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert token_client.get("/api/me").status_code in (401, 403)


@pytest.mark.django_db
def test_password_change_requires_current_password(patient, client_for):  # type: ignore[no-untyped-def]
    client = client_for(patient)
    bad = client.post(
        "/api/auth/password",
        {"old_password": "wrong", "new_password": "a-new-long-pass-77"},
        format="json",
    )
    assert bad.status_code == 400
    good = client.post(
        "/api/auth/password",
        {"old_password": PASSWORD, "new_password": "a-new-long-pass-77"},
        format="json",
    )
    assert good.status_code == 204
    patient.refresh_from_db()
    assert patient.check_password("a-new-long-pass-77")


@pytest.mark.django_db
def test_admin_creates_accounts_and_weak_passwords_are_refused(admin_user, client_for):  # type: ignore[no-untyped-def]
    client = client_for(admin_user)
    weak = client.post(
        "/api/users", {"username": "t2", "password": "12345678", "role": "therapist"}, format="json"
    )
    assert weak.status_code == 400
    ok = client.post(
        "/api/users",
        {"username": "t2", "password": "sturdy-pass-9182", "role": "therapist"},
        format="json",
    )
    assert ok.status_code == 201
    assert User.objects.get(username="t2").is_therapist
    assert "password" not in ok.json()


@pytest.mark.django_db
def test_admin_delete_deactivates_instead_of_erasing(admin_user, patient, client_for):  # type: ignore[no-untyped-def]
    assert client_for(admin_user).delete(f"/api/users/{patient.pk}").status_code == 204
    patient.refresh_from_db()
    assert patient.is_active is False


@pytest.mark.django_db
def test_therapist_invites_patient_who_joins_their_caseload(therapist, client_for):  # type: ignore[no-untyped-def]
    invite = client_for(therapist).post(
        "/api/invitations", {"email": "new@example.org"}, format="json"
    )
    assert invite.status_code == 201
    token = invite.json()["token"]
    accept = APIClient().post(
        "/api/invitations/accept",
        {"token": token, "username": "newpat", "password": "brand-new-pass-31"},
        format="json",
    )
    assert accept.status_code == 201
    newpat = User.objects.get(username="newpat")
    assert newpat.is_patient
    assert therapist.is_current_therapist_of(newpat.pk)
    again = APIClient().post(
        "/api/invitations/accept",
        {"token": token, "username": "second", "password": "brand-new-pass-32"},
        format="json",
    )
    assert again.status_code == 400
    assert not User.objects.filter(username="second").exists()
    assert Invitation.objects.get().token_hash != token  # only the hash is stored


@pytest.mark.django_db
def test_expired_invitation_is_refused(therapist):  # type: ignore[no-untyped-def]
    invitation, token = Invitation.issue(therapist=therapist, email="x@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = APIClient().post(
        "/api/invitations/accept",
        {"token": token, "username": "late", "password": "brand-new-pass-33"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_invitation"


@pytest.mark.django_db
def test_patient_can_have_several_therapists_over_time(patient, therapist, other_therapist):  # type: ignore[no-untyped-def]
    first = Assignment.objects.get(therapist=therapist, patient=patient)
    services.end_assignment(assignment=first)
    services.assign(therapist=other_therapist, patient=patient)
    again = services.assign(therapist=therapist, patient=patient)
    assert again.pk != first.pk
    assert Assignment.objects.filter(patient=patient).count() == 3
    assert set(patient.care_team.active().values_list("therapist__username", flat=True)) == {
        "ther",
        "otherther",
    }


@pytest.mark.django_db
def test_consent_withdraw_and_regrant(patient, client_for):  # type: ignore[no-untyped-def]
    client = client_for(patient)
    assert client.get("/api/me/consent").json()["consent"] is not None
    assert client.delete("/api/me/consent").status_code == 204
    assert client.get("/api/me/consent").json()["consent"] is None
    assert client.get("/api/me").json()["has_consent"] is False
    assert client.post("/api/me/consent", {}, format="json").status_code == 201
    assert client.get("/api/me").json()["has_consent"] is True


@pytest.mark.django_db
def test_consent_to_an_old_notice_is_refused(patient, client_for):  # type: ignore[no-untyped-def]
    response = client_for(patient).post(
        "/api/me/consent", {"notice_version": "2001-01"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stale_notice"


def test_backend_emotion_labels_mirror_ml():  # type: ignore[no-untyped-def]
    from backend.therapy.models import EMOTIONS, Emotion
    from ml.emotions import EMOTIONS as ML_EMOTIONS

    assert EMOTIONS == ML_EMOTIONS
    assert tuple(Emotion.values) == ML_EMOTIONS
