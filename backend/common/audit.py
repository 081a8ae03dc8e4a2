"""The one audit writer: every access to patient data and every account event goes through
`record`. Patients reading their own data are not recorded (it is theirs)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backend.common.models import AuditLog


def record(
    *,
    actor: Any,
    patients: Iterable[Any],
    action: str,
    path: str = "",
    params: dict[str, Any] | None = None,
) -> list[AuditLog]:
    """One row per patient (returned). `actor` and `patients` are users (accounts.User)."""
    rows = [
        AuditLog(
            actor=actor,
            actor_username=actor.username,
            patient=p,
            patient_username=p.username,
            action=action,
            path=path[:500],
            params=params or {},
        )
        for p in patients
    ]
    return AuditLog.objects.bulk_create(rows) if rows else []


def record_read(
    *, actor: Any, patients: Iterable[Any], action: str, path: str, params: dict[str, Any]
) -> None:
    """A read of patients' data: recorded when a therapist reads it (a patient reading their
    own data is not an event worth keeping)."""
    if actor.role == "therapist":
        record(actor=actor, patients=patients, action=action, path=path, params=params)


def record_request_read(request: Any, action: str, patients: Iterable[Any]) -> None:
    """record_read for an API request: its user, path and query parameters."""
    record_read(
        actor=request.user,
        patients=patients,
        action=action,
        path=request.path,
        params=dict(request.query_params.items()),
    )
