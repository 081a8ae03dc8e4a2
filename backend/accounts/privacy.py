"""A patient's data rights: export everything we hold about them, and erase it. Admins only,
and every use is written to the audit log (backend.reports.models.AuditLog).

Export and erasure cover the same rows by construction: both start from Django's deletion
collector, i.e. exactly the rows that deleting the patient cascades to (sessions, frames,
readings, check-ins, consents, care-team assignments, tokens, and whatever other apps attach to
a patient or a session: playlists, feedback, report rollups). Rows that only point at the patient
with SET_NULL (the audit log itself) are kept: the audit trail outlives the data it describes,
by design, and keeps only a username snapshot.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from django.contrib.admin.utils import NestedObjects
from django.core import serializers
from django.core.files.storage import default_storage
from django.db import router, transaction
from django.db.models import Model
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import Invitation, User
from backend.common.errors import ApplicationError
from backend.reports.models import AuditLog

EXPORT_ACTION = "data_export"
ERASURE_ACTION = "data_erasure"
# Never exported: credentials.
_SECRET_FIELDS = {"accounts.user": {"password"}, "authtoken.token": {"key"}}


def _require_patient(patient: User) -> None:
    if not patient.is_patient:
        raise ApplicationError(
            "data export and erasure apply to patient accounts only", code="not_a_patient"
        )


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise ApplicationError(
            "only admins can do this", code="forbidden", status_code=status.HTTP_403_FORBIDDEN
        )


def _collect(patient: User) -> dict[type[Model], list[Model]]:
    collector = NestedObjects(using=router.db_for_write(User))
    collector.collect([patient])
    return {model: list(objs) for model, objs in collector.data.items()}


def _audit(
    *, actor: User, patient: User, action: str, path: str, params: dict[str, Any]
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor,
        actor_username=actor.username,
        patient=patient,
        patient_username=patient.username,
        action=action,
        path=path[:500],
        params=params,
    )


def _records(objs: Iterable[Model]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = serializers.serialize("python", objs)
    for row in rows:
        for name in _SECRET_FIELDS.get(row["model"], ()):
            row["fields"].pop(name, None)
        if row["model"] == "authtoken.token":
            row["pk"] = None  # a token's primary key IS the secret
    return rows


def _images(collected: dict[type[Model], list[Model]]) -> list[str]:
    names = []
    for objs in collected.values():
        for obj in objs:
            image = getattr(obj, "image", None)
            if obj._meta.label == "therapy.Frame" and image:
                names.append(str(image.name))
    return names


def export_patient_data(*, actor: User, patient: User, path: str = "") -> bytes:
    """A zip: export.json (every row about the patient, by model) plus kept raw frames."""
    _require_admin(actor)
    _require_patient(patient)
    collected = _collect(patient)
    document = {
        "format": "moodtune-patient-export/1",
        "exported_at": timezone.now().isoformat(),
        "patient": {"id": patient.pk, "username": patient.username},
        "data": {
            model._meta.label_lower: _records(sorted(objs, key=lambda o: o.pk or 0))
            for model, objs in sorted(collected.items(), key=lambda kv: kv[0]._meta.label)
        },
    }
    buffer = io.BytesIO()
    images = _images(collected)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=1, default=str))
        for name in images:
            if default_storage.exists(name):
                with default_storage.open(name, "rb") as f:
                    archive.writestr(name, f.read())
    counts = {label: len(rows) for label, rows in document["data"].items()}
    _audit(
        actor=actor,
        patient=patient,
        action=EXPORT_ACTION,
        path=path,
        params={"rows": counts, "images": len(images)},
    )
    return buffer.getvalue()


@transaction.atomic
def erase_patient(*, actor: User, patient: User, confirm: str, path: str = "") -> dict[str, int]:
    """Delete the patient and every row that cascades from them, then their stored frames.

    `confirm` must repeat the username: erasure cannot be undone. Files are removed only after
    the transaction commits, so a failed erasure leaves everything as it was.
    """
    _require_admin(actor)
    _require_patient(patient)
    if confirm != patient.username:
        raise ApplicationError(
            "to erase, repeat the patient's username in 'confirm'", code="confirm_mismatch"
        )
    images = _images(_collect(patient))
    invitations = Invitation.objects.filter(accepted_by=patient)
    invitation_count = invitations.count()
    # Written before the delete (which then sets its patient to NULL, keeping the username).
    entry = _audit(actor=actor, patient=patient, action=ERASURE_ACTION, path=path, params={})
    invitations.delete()  # they hold the patient's e-mail address
    _, per_model = patient.delete()
    counts = {label.lower(): n for label, n in per_model.items() if n}
    counts["accounts.invitation"] = invitation_count
    counts["frame_images"] = len(images)
    AuditLog.objects.filter(pk=entry.pk).update(params={"rows": counts})

    def delete_files() -> None:
        for name in images:
            default_storage.delete(name)

    transaction.on_commit(delete_files)
    return counts
