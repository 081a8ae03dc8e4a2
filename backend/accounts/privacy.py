"""A patient's data rights: export everything we hold about them (the patient alone downloads
it: nobody else reads the content), and erase it (admins, on request). Every use is written to
the audit log (backend.common.audit).

Export and erasure cover the same rows: the export follows the same relations as Django's
deletion collector (every CASCADE relation, transitively, from the patient), i.e. exactly the
rows that deleting the patient removes (sessions, frames, readings, check-ins, consents,
care-team assignments, tokens, and whatever other apps attach to a patient or a session:
playlists, feedback, report rollups); a test compares the two. Rows that only point at the
patient with SET_NULL (the audit log itself) are kept: the audit trail outlives the data it
describes, by design, and keeps only a username snapshot.

The export is lazy: one SQL query per model (subqueries, no id lists), rows streamed in chunks
into a zip on a temporary file, so a patient with a million readings needs bounded memory.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from django.core import serializers
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete
from django.utils import timezone
from rest_framework import status

from backend.accounts.models import Invitation, User
from backend.common import audit, notify
from backend.common.errors import ApplicationError
from backend.common.models import AuditLog

log = logging.getLogger(__name__)

EXPORT_ACTION = "data_export"
ERASURE_ACTION = "data_erasure"
# Never exported: credentials.
_SECRET_FIELDS = {"accounts.user": {"password"}, "authtoken.token": {"key"}}
CHUNK = 2000  # rows serialised at a time


def _require_patient(patient: User) -> None:
    if not patient.is_patient:
        raise ApplicationError(
            "data export and erasure apply to patient accounts only", code="not_a_patient"
        )


def _require_self(actor: User, patient: User) -> None:
    if actor.pk != patient.pk:
        raise ApplicationError(
            "only the patient can download their own data",
            code="forbidden",
            status_code=status.HTTP_403_FORBIDDEN,
        )


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise ApplicationError(
            "only admins can do this", code="forbidden", status_code=status.HTTP_403_FORBIDDEN
        )


def patient_querysets(patient: User) -> dict[type[Model], QuerySet[Any]]:
    """Per model, a lazy queryset of every row that deleting `patient` cascades to.

    Walks the relations Django's deletion collector walks (reverse one-to-one and one-to-many,
    auto-created m2m through tables included) and follows those whose on_delete is CASCADE. A
    model reached by several paths gets one queryset, the union of its paths (fk IN subquery,
    no id loaded into Python). A cascade back into a model already on the path (a self-reference)
    is not followed: no model here has one.
    """
    edges: dict[type[Model], list[tuple[type[Model], str]]] = {User: []}
    pending: list[type[Model]] = [User]
    while pending:
        parent = pending.pop()
        for relation in get_candidate_relations_to_delete(parent._meta):
            if relation.on_delete is not models.CASCADE:
                continue  # SET_NULL (the audit log), PROTECT, DO_NOTHING: not the patient's rows
            child = relation.related_model
            if child not in edges:
                edges[child] = []
                pending.append(child)
            edges[child].append((parent, relation.field.name))

    conditions: dict[type[Model], Q | None] = {}

    def condition(model: type[Model]) -> Q | None:
        if model in conditions:
            return conditions[model]  # None while being built: a cycle, not followed
        conditions[model] = None
        if model is User:
            q: Q | None = Q(pk=patient.pk)
        else:
            q = None
            for parent, field in edges[model]:
                parent_q = condition(parent)
                if parent_q is None:
                    continue
                rows = parent._base_manager.filter(parent_q).values("pk")
                q = Q(**{f"{field}__in": rows}) if q is None else q | Q(**{f"{field}__in": rows})
        conditions[model] = q
        return q

    out = {}
    for model in edges:
        q = condition(model)
        if q is not None:
            out[model] = model._base_manager.filter(q)
    return out


def _audit(
    *, actor: User, patient: User, action: str, path: str, params: dict[str, Any]
) -> AuditLog:
    [entry] = audit.record(actor=actor, patients=[patient], action=action, path=path, params=params)
    return entry


def _records(objs: Iterable[Model]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = serializers.serialize("python", objs)
    for row in rows:
        for name in _SECRET_FIELDS.get(row["model"], ()):
            row["fields"].pop(name, None)
        if row["model"] == "authtoken.token":
            row["pk"] = None  # a token's primary key IS the secret
    return rows


def _frame_images(querysets: dict[type[Model], QuerySet[Any]]) -> list[str]:
    """Every stored file the patient's rows name (raw frames, in practice), found through the
    models' file fields like the rows themselves: no app is imported by name."""
    names: set[str] = set()
    for model, queryset in querysets.items():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                stored = queryset.exclude(**{field.name: ""}).order_by()
                names.update(stored.values_list(field.name, flat=True).distinct())
    return sorted(names)


def _write_rows(out: IO[str], queryset: QuerySet[Any]) -> int:
    """The model's rows as a JSON array, streamed in chunks of CHUNK rows; returns the count."""
    count, batch = 0, list[Model]()
    out.write("[")

    def flush() -> None:
        nonlocal count
        for row in _records(batch):
            out.write(("\n" if count == 0 else ",\n") + json.dumps(row, default=str))
            count += 1
        batch.clear()

    for obj in queryset.order_by("pk").iterator(chunk_size=CHUNK):
        batch.append(obj)
        if len(batch) == CHUNK:
            flush()
    flush()
    out.write("\n]")
    return count


def _write_archive(
    spool: IO[bytes],
    header: dict[str, Any],
    querysets: dict[type[Model], QuerySet[Any]],
    images: list[str],
    counts: dict[str, int],
) -> None:
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("export.json", "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8")
            out.write(json.dumps(header)[:-1] + ', "data": {')
            labelled = sorted(querysets.items(), key=lambda kv: kv[0]._meta.label_lower)
            for i, (model, queryset) in enumerate(labelled):
                label = model._meta.label_lower
                out.write(("" if i == 0 else ",") + f"\n{json.dumps(label)}: ")
                counts[label] = _write_rows(out, queryset)
            out.write("\n}}\n")
            out.flush()
            out.detach()
        for name in images:
            if default_storage.exists(name):
                with default_storage.open(name, "rb") as f, archive.open(name, "w") as member:
                    shutil.copyfileobj(f, member)


def export_patient_data(*, actor: User, patient: User, path: str = "") -> IO[bytes]:
    """A zip on a temporary file (rewound; close it when done): export.json (every row about
    the patient, by model) plus the raw frames still kept. Only for the patient themself."""
    _require_patient(patient)
    _require_self(actor, patient)
    querysets = patient_querysets(patient)
    images = _frame_images(querysets)
    header = {
        "format": "moodtune-patient-export/1",
        "exported_at": timezone.now().isoformat(),
        "patient": {"id": patient.pk, "username": patient.username},
    }
    counts: dict[str, int] = {}
    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- handed to the caller (FileResponse closes it)
    try:
        _write_archive(spool, header, querysets, images, counts)
    except BaseException:
        spool.close()
        raise
    _audit(
        actor=actor,
        patient=patient,
        action=EXPORT_ACTION,
        path=path,
        params={"rows": counts, "images": len(images)},
    )
    spool.seek(0)
    return spool


@transaction.atomic
def erase_patient(*, actor: User, patient: User, confirm: str, path: str = "") -> dict[str, int]:
    """Delete the patient and every row that cascades from them, then their stored frames.

    `confirm` must repeat the username: erasure cannot be undone. Stored frames are deleted
    first, while rows still name them (delete first, then forget: a crash can leave a row
    without its file, never a file without a row); every file is tried even after one fails,
    and the ones that could not be removed are reported in `files_not_removed` and logged.
    """
    _require_admin(actor)
    _require_patient(patient)
    if confirm != patient.username:
        raise ApplicationError(
            "to erase, repeat the patient's username in 'confirm'", code="confirm_mismatch"
        )
    images = _frame_images(patient_querysets(patient))
    not_removed = []
    for name in images:
        try:
            default_storage.delete(name)
        except OSError:
            log.exception("erasure of patient %s: could not delete %s", patient.pk, name)
            not_removed.append(name)
    invitations = Invitation.objects.filter(accepted_by=patient)
    invitation_count = invitations.count()
    # Written before the delete (which then sets its patient to NULL, keeping the username).
    entry = _audit(actor=actor, patient=patient, action=ERASURE_ACTION, path=path, params={})
    invitations.delete()  # they hold the patient's e-mail address
    notify.access_changed(patient.pk)  # every live stream on this patient ends
    _, per_model = patient.delete()
    counts = {label.lower(): n for label, n in per_model.items() if n}
    counts["accounts.invitation"] = invitation_count
    counts["frame_images"] = len(images) - len(not_removed)
    counts["files_not_removed"] = len(not_removed)
    AuditLog.objects.filter(pk=entry.pk).update(
        params={"rows": counts, "files_not_removed": not_removed}
    )
    return counts
