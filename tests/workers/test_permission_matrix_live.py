"""Every endpoint of the live/ops surface x every persona, expected status spelled out.

/api/health and /api/metrics are open on purpose (load balancers, Prometheus) and carry only
aggregates; the session event stream is as private as the session itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import make_reading, make_session

PERSONAS = ("anonymous", "patient", "other_patient", "therapist", "other_therapist", "admin")
DENY_ANON = (401, 403)

MATRIX: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/sessions/{session}/events?seconds=0.5",
        dict(
            anonymous=DENY_ANON,
            patient=200,
            other_patient=404,
            therapist=200,
            other_therapist=404,
            admin=404,
        ),
    ),
    ("/api/health", dict.fromkeys(PERSONAS, 200)),
    ("/api/metrics", dict.fromkeys(PERSONAS, 200)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("path", "expected"), MATRIX, ids=[row[0] for row in MATRIX])
def test_live_and_ops_endpoint_access(
    request, client_for, patient, therapist, persona, path, expected
):
    request.getfixturevalue("other_therapist")
    request.getfixturevalue("admin_user")
    users = {
        "anonymous": None,
        "patient": patient,
        "other_patient": request.getfixturevalue("other_patient"),
        "therapist": therapist,
        "other_therapist": request.getfixturevalue("other_therapist"),
        "admin": request.getfixturevalue("admin_user"),
    }
    session = make_session(patient)
    make_reading(session)

    response = client_for(users[persona]).get(path.format(session=session.pk))
    if response.streaming:
        b"".join(response.streaming_content)

    allowed = expected[persona]
    assert response.status_code in (allowed if isinstance(allowed, tuple) else (allowed,))
