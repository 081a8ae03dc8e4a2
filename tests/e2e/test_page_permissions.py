"""Who may open which page: every page x every persona, expected status spelled out.

Runs with Django's test client (no browser), so page-level access control is checked even
where Chromium is missing and the browser tests skip.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.accounts import services
from backend.accounts.models import Role
from backend.therapy.models import TherapySession

PASSWORD = "a-long-page-password-42"
ANON, PAT, OTHER_PAT, THER, OTHER_THER, ADMIN = (
    "anonymous",
    "patient",
    "other_patient",
    "therapist",
    "other_therapist",
    "admin",
)
LOGIN = 302  # signed-out visitors are redirected to /login/?next=...

# page -> expected status per persona; {patient} / {session} are the patient's (assigned to
# therapist), whom other_patient and other_therapist must not reach.
MATRIX: dict[str, dict[str, int]] = {
    "/session/": {ANON: LOGIN, PAT: 200, OTHER_PAT: 200, THER: 403, OTHER_THER: 403, ADMIN: 403},
    "/history/": {ANON: LOGIN, PAT: 200, OTHER_PAT: 200, THER: 403, OTHER_THER: 403, ADMIN: 403},
    "/caseload/": {ANON: LOGIN, PAT: 403, OTHER_PAT: 403, THER: 200, OTHER_THER: 200, ADMIN: 403},
    "/patients/{patient}/": {
        ANON: LOGIN,
        PAT: 200,
        OTHER_PAT: 404,
        THER: 200,
        OTHER_THER: 404,
        ADMIN: 403,
    },
    "/sessions/{session}/": {
        ANON: LOGIN,
        PAT: 200,
        OTHER_PAT: 404,
        THER: 200,
        OTHER_THER: 404,
        ADMIN: 403,
    },
    "/catalogue/": {ANON: LOGIN, PAT: 403, OTHER_PAT: 403, THER: 403, OTHER_THER: 403, ADMIN: 200},
    "/accounts/": {ANON: LOGIN, PAT: 403, OTHER_PAT: 403, THER: 403, OTHER_THER: 403, ADMIN: 200},
    "/account/": {ANON: LOGIN, PAT: 200, OTHER_PAT: 200, THER: 200, OTHER_THER: 200, ADMIN: 200},
    "/login/": {ANON: 200, PAT: 200, OTHER_PAT: 200, THER: 200, OTHER_THER: 200, ADMIN: 200},
}


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    def user(name: str, role: str) -> Any:
        return services.create_user(username=name, password=PASSWORD, role=role)

    people: dict[str, Any] = {
        PAT: user("pat", Role.PATIENT),
        OTHER_PAT: user("otherpat", Role.PATIENT),
        THER: user("ther", Role.THERAPIST),
        OTHER_THER: user("otherther", Role.THERAPIST),
        ADMIN: user("boss", Role.ADMIN),
    }
    services.assign(therapist=people[THER], patient=people[PAT])
    services.assign(therapist=people[OTHER_THER], patient=people[OTHER_PAT])
    people["session"] = TherapySession.objects.create(patient=people[PAT])
    return people


@pytest.mark.parametrize("persona", [ANON, PAT, OTHER_PAT, THER, OTHER_THER, ADMIN])
@pytest.mark.parametrize("page", list(MATRIX))
def test_page_access_matrix(world: dict[str, Any], page: str, persona: str) -> None:
    client = Client()
    if persona != ANON:
        client.force_login(world[persona])
    url = page.format(patient=world[PAT].pk, session=world["session"].pk)
    response = client.get(url)
    assert response.status_code == MATRIX[page][persona], (url, persona)
    if response.status_code == LOGIN:
        assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize(
    ("persona", "landing"),
    [(ANON, "/login/"), (PAT, "/session/"), (THER, "/caseload/"), (ADMIN, "/catalogue/")],
)
def test_home_sends_each_role_to_its_landing_page(
    world: dict[str, Any], persona: str, landing: str
) -> None:
    client = Client()
    if persona != ANON:
        client.force_login(world[persona])
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, landing)


def test_pages_set_the_csrf_cookie_their_scripts_send_back(world: dict[str, Any]) -> None:
    client = Client()
    assert "csrftoken" in client.get("/login/").cookies
    client.force_login(world[PAT])
    assert "csrftoken" in client.get("/session/").cookies


def test_a_missing_patient_or_session_is_404_for_a_therapist(world: dict[str, Any]) -> None:
    client = Client()
    client.force_login(world[THER])
    # the same 404 as for someone else's patient: no hint whether the id exists
    assert client.get("/patients/999999/").status_code == 404
    assert client.get("/sessions/999999/").status_code == 404


def test_logout_needs_a_post_and_ends_the_session(world: dict[str, Any]) -> None:
    client = Client()
    client.force_login(world[PAT])
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/session/").status_code == LOGIN


def test_the_invitation_page_takes_no_token_in_its_path(world: dict[str, Any]) -> None:
    _, token = services.invite_patient(therapist=world[THER], email="new@example.org")
    client = Client()
    assert client.get(f"/invite/{token}").status_code == 404  # tokens never ride in paths
    response = client.get("/invite/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
