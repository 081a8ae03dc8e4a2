"""Every report and export endpoint x every persona, expected status spelled out, plus what
each access leaves in the audit log.

The patient owns the session under test. Patient-scoped reports answer 404 to anyone outside
the patient's care team (admins included: they manage accounts, not mood data), as the therapy
API does; the caseload is for therapists; the audit trail for admins.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.common.models import AuditLog
from tests.backend.conftest import make_reading, make_session
from tests.personas import PATIENT_DATA, PERSONAS, check, row, users

# path template -> expected status per persona
MATRIX: list[tuple[str, dict[str, Any]]] = [
    ("/api/reports/sessions/{session}", PATIENT_DATA),
    ("/api/reports/patients/{patient}/trend", PATIENT_DATA),
    ("/api/reports/patients/{patient}/trend?bucket=day&tz=Europe/Paris", PATIENT_DATA),
    ("/api/reports/patients/{patient}/export.csv?kind=readings", PATIENT_DATA),
    ("/api/reports/patients/{patient}/export.csv?kind=sessions", PATIENT_DATA),
    ("/api/reports/patients/{patient}/export.csv?kind=daily", PATIENT_DATA),
    ("/api/reports/patients/{patient}/report.pdf", PATIENT_DATA),
    ("/api/reports/patients/{patient}/chart.png", PATIENT_DATA),
    ("/api/reports/patients/{patient}/chart.svg", PATIENT_DATA),
    (
        "/api/reports/caseload",
        row(patient=403, other_patient=403, therapist=200, other_therapist=200, admin=403),
    ),
    (
        "/api/audit",
        row(patient=403, other_patient=403, therapist=403, other_therapist=403, admin=200),
    ),
    # a therapist's own user id is not a patient: nobody gets a report for it
    (
        "/api/reports/patients/{therapist}/trend",
        row(patient=404, other_patient=404, therapist=404, other_therapist=404, admin=404),
    ),
]

AUDITED_ACTION = {
    "/api/reports/sessions/": "session_report",
    "trend": "trend",
    "export.csv": "export_csv",
    "report.pdf": "report_pdf",
    "chart.png": "chart",
    "chart.svg": "chart",
    "caseload": "caseload",
}


@pytest.fixture
def world(request, patient, other_patient, therapist, other_therapist, admin_user):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    make_reading(session)
    return {
        "users": users(request),
        "ids": {"session": session.pk, "patient": patient.pk, "therapist": therapist.pk},
    }


CASES = [
    pytest.param(path, persona, expected[persona], id=f"{path} as {persona}")
    for path, expected in MATRIX
    for persona in PERSONAS
]


@pytest.mark.parametrize(("path", "persona", "expected"), CASES)
def test_report_permission_matrix(world, client_for, path, persona, expected):
    user = world["users"][persona]
    response = client_for(user).get(path.format(**world["ids"]))
    check(response, expected)

    audited = AuditLog.objects.filter(actor=user) if user else AuditLog.objects.none()
    if response.status_code == 200 and persona == "therapist" and "audit" not in path:
        action = next(a for key, a in AUDITED_ACTION.items() if key in path)
        entry = audited.get()
        assert (entry.action, entry.patient_id) == (action, world["ids"]["patient"])
    else:
        # refusals, patients reading their own data and other therapists' caseloads of
        # other patients leave nothing about *this* patient
        assert not audited.filter(patient_id=world["ids"]["patient"]).exists()


def test_a_therapist_whose_assignment_ended_loses_access_and_the_caseload_entry(world, client_for):
    from backend.accounts import services as account_services
    from backend.accounts.models import Assignment

    therapist = world["users"]["therapist"]
    client = client_for(therapist)
    trend = f"/api/reports/patients/{world['ids']['patient']}/trend"
    assert client.get(trend).status_code == 200

    account_services.end_assignment(assignment=Assignment.objects.get(therapist=therapist))

    assert client.get(trend).status_code == 404
    assert client.get(f"/api/reports/sessions/{world['ids']['session']}").status_code == 404
    assert client.get("/api/reports/caseload").json() == {"patients": []}
