"""The attack suite: the backend personas (patient, other patient, therapist, other therapist,
admin) on the real database."""

from tests.backend.conftest import (  # noqa: F401 -- fixtures
    admin_user,
    client_for,
    media_root,
    other_patient,
    other_therapist,
    patient,
    therapist,
)
