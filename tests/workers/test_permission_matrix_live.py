"""Every endpoint of the live/ops surface x every persona, expected status spelled out.

/api/health and /api/metrics are open on purpose (load balancers, Prometheus) and carry only
aggregates; the session event stream is as private as the session itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import make_reading, make_session
from tests.personas import PATIENT_DATA, PERSONAS, check, users

MATRIX: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/sessions/{session}/events?seconds=0.5",
        PATIENT_DATA,
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
    session = make_session(patient)
    make_reading(session)

    response = client_for(users(request)[persona]).get(path.format(session=session.pk))
    if response.streaming:
        b"".join(response.streaming_content)
    check(response, expected[persona])
