"""Reliability and security suite: the backend personas and factories are reused as they are
(patient, other_patient, therapist, other_therapist, admin_user, client_for, media_root)."""

from __future__ import annotations

from tests.backend.conftest import (  # noqa: F401 (pytest fixtures)
    admin_user,
    client_for,
    media_root,
    other_patient,
    other_therapist,
    patient,
    therapist,
)
