"""The persona-matrix harness every access test shares: the six personas, how a matrix row is
written, the users behind the personas, and the one way a response is checked against a row.

A matrix row maps each persona to the status (or tuple of statuses) it must get; `row()`
fills in the anonymous visitor, who is refused (401 or 403) unless the row says otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest

PERSONAS = ("anonymous", "patient", "other_patient", "therapist", "other_therapist", "admin")
DENY_ANON = (401, 403)
# the fixture behind each persona (tests/backend/conftest.py)
FIXTURES = {
    "patient": "patient",
    "other_patient": "other_patient",
    "therapist": "therapist",
    "other_therapist": "other_therapist",
    "admin": "admin_user",
}


def row(**statuses: int | tuple[int, ...]) -> dict[str, Any]:
    statuses.setdefault("anonymous", DENY_ANON)
    return statuses


# A patient's data: the patient and their current therapist read it; to everyone else it does
# not exist (admins included: they manage accounts and the catalogue, never mood data).
PATIENT_DATA = row(patient=200, other_patient=404, therapist=200, other_therapist=404, admin=404)


def users(request: pytest.FixtureRequest) -> dict[str, Any]:
    """persona -> user (None for the anonymous visitor), from the test's fixtures."""
    return {"anonymous": None} | {
        persona: request.getfixturevalue(fixture) for persona, fixture in FIXTURES.items()
    }


def cases(matrix: list[tuple[Any, ...]]) -> list[Any]:
    """One test case per (matrix row, persona): rows are (method, path, kind, expected)."""
    return [
        pytest.param(
            method, path, kind, persona, expected[persona], id=f"{method} {path} as {persona}"
        )
        for method, path, kind, expected in matrix
        for persona in PERSONAS
    ]


def check(response: Any, expected: int | tuple[int, ...]) -> None:
    """The status is one the row allows, and a refusal uses the one JSON error shape."""
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert response.status_code in allowed, response.content[:300]
    if response.status_code >= 400 and not response.streaming:
        assert "error" in response.json(), "errors use the one JSON error shape"
