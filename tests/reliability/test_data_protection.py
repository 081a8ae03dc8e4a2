"""Data protection: a patient's data export and erasure (admin only, audited, covering the same
rows), and the retention of raw frames (purge_frames)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin.utils import NestedObjects
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.accounts import privacy
from backend.accounts.models import ConsentRecord, User
from backend.common.errors import ApplicationError
from backend.common.models import AuditLog
from backend.reports.services import refresh_rollups
from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession
from tests.backend.conftest import image_bytes, make_checkin, make_reading, make_session

pytestmark = pytest.mark.django_db


def _frame_with_image(session: TherapySession, *, status: str = "done", age_days: float = 0):
    frame = Frame(session=session, content_hash="1" * 64, width=64, height=48, status=status)
    frame.image.save("kept.jpg", ContentFile(image_bytes()), save=False)
    frame.save()
    when = timezone.now() - timedelta(days=age_days)
    Frame.objects.filter(pk=frame.pk).update(
        uploaded_at=when, processed_at=when if status != "queued" else None
    )
    return Frame.objects.get(pk=frame.pk)


def _patient_data(patient: User) -> TherapySession:
    session = make_session(patient, notes="private note")
    make_reading(session)
    make_checkin(session, "before")
    _frame_with_image(session)
    return session


def test_patient_exports_every_row_of_their_own_data_and_no_one_elses(  # type: ignore[no-untyped-def]
    patient, other_patient, therapist, admin_user, client_for
):
    _patient_data(patient)
    _patient_data(other_patient)
    Token.objects.create(user=patient)
    response = client_for(patient).get("/api/me/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    document = json.loads(archive.read("export.json"))
    data = document["data"]
    assert [r["pk"] for r in data["accounts.user"]] == [patient.pk]
    assert "password" not in data["accounts.user"][0]["fields"]
    assert data["authtoken.token"][0]["pk"] is None, "the token itself is a secret"
    assert len(data["therapy.therapysession"]) == 1
    assert data["therapy.therapysession"][0]["fields"]["notes"] == "private note"
    assert len(data["therapy.emotionreading"]) == 1
    assert len(data["therapy.moodcheckin"]) == 1
    assert len(data["accounts.consentrecord"]) == 1
    assert len(data["accounts.assignment"]) == 1
    frames = [n for n in archive.namelist() if n.startswith("frames/")]
    assert len(frames) == 1 and archive.read(frames[0])[:3] == b"\xff\xd8\xff"
    exported_patients = {
        r["fields"].get("patient")
        for rows in data.values()
        for r in rows
        if "patient" in r["fields"]
    }
    assert exported_patients == {patient.pk}
    audit = AuditLog.objects.get(action="data_export")
    assert (audit.actor, audit.patient, audit.patient_username) == (patient, patient, "pat")


def test_the_export_holds_exactly_the_rows_that_erasure_deletes(  # type: ignore[no-untyped-def]
    patient, other_patient, therapist, admin_user
):
    # A settled session with stored rollups: MoodRollup is reached both through the session and
    # through the patient, so the export's query must take the union of both paths.
    for person in (patient, other_patient):
        session = _patient_data(person)
        make_reading(session, face_index=1)
        TherapySession.objects.filter(pk=session.pk).update(
            started_at=timezone.now() - timedelta(days=1, hours=1),
            ended_at=timezone.now() - timedelta(days=1),
        )
    Token.objects.create(user=patient)
    assert refresh_rollups(patient_ids=[patient.pk, other_patient.pk]) == 2
    collector = NestedObjects(using="default")  # what Django's delete() cascades to
    collector.collect([patient])
    deleted = {m._meta.label_lower: {o.pk for o in objs} for m, objs in collector.data.items()}
    exported = {
        m._meta.label_lower: set(qs.values_list("pk", flat=True))
        for m, qs in privacy.patient_querysets(patient).items()
    }
    assert {k: v for k, v in exported.items() if v} == {k: v for k, v in deleted.items() if v}
    assert len(exported["reports.moodrollup"]) >= 1 and len(exported["therapy.emotionreading"]) == 2

    with privacy.export_patient_data(actor=patient, patient=patient) as spool:
        document = json.loads(zipfile.ZipFile(spool).read("export.json"))
    assert {label: {r["pk"] for r in rows} for label, rows in document["data"].items() if rows} == {
        k: (v if k != "authtoken.token" else {None}) for k, v in deleted.items() if v
    }


@pytest.mark.parametrize("who", ["therapist", "other_patient", "admin_user"])
def test_nobody_exports_another_persons_data(who, request, patient, client_for):  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(who)
    with pytest.raises(ApplicationError) as refused:
        privacy.export_patient_data(actor=user, patient=patient)
    assert refused.value.code == "forbidden"
    assert client_for(user).get(f"/api/users/{patient.pk}/export").status_code == 404
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("who", ["patient", "therapist", "other_patient", None])
def test_only_admins_can_erase(who, request, patient, client_for):  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(who) if who else None
    client = client_for(user)
    erase = client.post(f"/api/users/{patient.pk}/erase", {"confirm": "pat"}, format="json")
    assert erase.status_code in (401, 403)
    assert User.objects.filter(pk=patient.pk).exists()
    assert not AuditLog.objects.exists()


def test_erasure_needs_the_username_repeated(patient, admin_user, client_for):  # type: ignore[no-untyped-def]
    _patient_data(patient)
    response = client_for(admin_user).post(
        f"/api/users/{patient.pk}/erase", {"confirm": "someone"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "confirm_mismatch"
    assert User.objects.filter(pk=patient.pk).exists()
    assert not AuditLog.objects.exists(), "a refused erasure leaves no trace and no change"


def test_erasure_removes_rows_and_files_and_keeps_an_audit_entry(  # type: ignore[no-untyped-def]
    patient,
    other_patient,
    therapist,
    admin_user,
    client_for,
    media_root,
    django_capture_on_commit_callbacks,
):
    session = _patient_data(patient)
    kept = _patient_data(other_patient)
    own_file = Path(media_root) / Frame.objects.exclude(image="").get(session=session).image.name
    other_file = Path(media_root) / Frame.objects.exclude(image="").get(session=kept).image.name
    assert own_file.exists() and other_file.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(
            f"/api/users/{patient.pk}/erase", {"confirm": "pat"}, format="json"
        )
    assert response.status_code == 200, response.content
    erased = response.json()["erased"]
    assert erased["therapy.emotionreading"] == 1 and erased["frame_images"] == 1
    assert not User.objects.filter(pk=patient.pk).exists()
    assert not Frame.objects.filter(session_id=session.pk).exists()
    assert not TherapySession.objects.filter(patient_id=patient.pk).exists()
    assert not EmotionReading.objects.filter(patient_id=patient.pk).exists()
    assert not MoodCheckIn.objects.filter(patient_id=patient.pk).exists()
    assert not ConsentRecord.objects.filter(patient_id=patient.pk).exists()
    assert not own_file.exists(), "the stored frame is deleted after commit"
    assert other_file.exists() and TherapySession.objects.filter(pk=kept.pk).exists()
    assert User.objects.filter(pk=therapist.pk).exists()
    audit = AuditLog.objects.get(action="data_erasure")
    assert audit.patient is None and audit.patient_username == "pat"
    assert audit.actor == admin_user
    assert audit.params["rows"]["therapy.emotionreading"] == 1


def test_erasure_and_export_refuse_non_patients(therapist, admin_user, client_for):  # type: ignore[no-untyped-def]
    assert client_for(therapist).get("/api/me/export").status_code == 403
    client = client_for(admin_user)
    response = client.post(f"/api/users/{therapist.pk}/erase", {"confirm": "ther"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_a_patient"
    assert User.objects.filter(pk=therapist.pk).exists()


def test_admin_site_erase_action_asks_for_confirmation_then_erases(  # type: ignore[no-untyped-def]
    patient, admin_user, client
):
    _patient_data(patient)
    client.force_login(admin_user)
    url = "/admin/accounts/user/"
    first = client.post(url, {"action": "erase_patients", "_selected_action": [patient.pk]})
    assert first.status_code == 200 and b"cannot be undone" in first.content
    assert User.objects.filter(pk=patient.pk).exists()
    client.post(
        url,
        {
            "action": "erase_patients",
            "_selected_action": [patient.pk],
            "confirmed": "yes",
            f"confirm_{patient.pk}": "pat",
        },
    )
    assert not User.objects.filter(pk=patient.pk).exists()
    assert AuditLog.objects.filter(action="data_erasure", patient_username="pat").count() == 1
