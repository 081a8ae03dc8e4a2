"""Schema-driven fuzzing of the catalogue and playlist endpoints as their most powerful users:
an admin for /api/tracks*, the patient for their session's playlist and feedback. Malformed
input must be a 4xx, never a server error."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from backend.recommendations import services
from tests.backend.conftest import make_session
from tests.backend.test_catalogue_api import make_catalogue
from tests.fuzzing import fuzz_operations

MAX_EXAMPLES = 15


def fuzz(token: str, prefixes: tuple[str, ...]) -> dict[str, Any]:
    return fuzz_operations(
        token, include=lambda path: path.startswith(prefixes), max_examples=MAX_EXAMPLES
    )


@pytest.mark.slow
def test_no_track_operation_answers_an_admin_with_a_server_error(
    wsgi_in_test_transaction: None,
    admin_user: Any,
) -> None:
    make_catalogue(5)
    report = fuzz(Token.objects.create(user=admin_user).key, ("/api/tracks",))
    assert report["operations"] >= 9, report
    assert report["server_errors"] == [], report["server_errors"]


@pytest.mark.slow
def test_no_playlist_operation_answers_the_patient_with_a_server_error(
    wsgi_in_test_transaction: None,
    patient: Any,
) -> None:
    make_catalogue(10)
    session = make_session(patient)
    services.build_playlist(session=session, length=3)
    report = fuzz(Token.objects.create(user=patient).key, ("/api/sessions/{session_id}/",))
    assert report["operations"] >= 5, report
    assert report["server_errors"] == [], report["server_errors"]
