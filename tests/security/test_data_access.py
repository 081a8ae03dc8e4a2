"""Attacks on patient data beyond the admin role: tokens in logs,
unaudited therapist reads, stale consent, overwritten notes, existence leaks, metadata left in
frames, and ids that overflow the database."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts.models import User
from backend.common.models import AuditLog
from backend.therapy import analysis
from backend.therapy.models import TherapySession
from tests.backend.conftest import make_checkin, make_reading, make_session

pytestmark = pytest.mark.django_db
HUGE = "141928089288007473543237337088"


# 11. invitation tokens in URLs (and so in access logs)


def test_the_invitation_token_never_travels_in_a_url(therapist: User, client_for: Any) -> None:
    invite = client_for(therapist).post("/api/invitations", {"email": "a@b.org"}, format="json")
    token = invite.json()["token"]
    path, _, fragment = invite.json()["accept_url"].partition("#")
    assert path == "/invite/" and fragment == token  # browsers never send the fragment
    page = Client().get(path)
    assert page.status_code == 200 and token not in page.content.decode()
    assert Client().get(f"/invite/{token}").status_code == 404  # no page takes it in the path
    lookup = APIClient().post("/api/invitations/lookup", {"token": token}, format="json")
    assert lookup.status_code == 200 and lookup.json()["therapist"] == "ther"
    wrong = APIClient().post("/api/invitations/lookup", {"token": "nope"}, format="json")
    assert wrong.status_code == 404


# 12. a therapist reads patient data without leaving a trace


def test_every_therapist_read_of_patient_data_is_audited(
    patient: User, therapist: User, client_for: Any
) -> None:
    session = make_session(patient)
    frame = make_reading(session).frame
    make_checkin(session)
    client = client_for(therapist)
    reads = {
        "sessions": [f"/api/sessions?patient={patient.pk}", f"/api/sessions/{session.pk}"],
        "readings": [f"/api/sessions/{session.pk}/readings"],
        "frames": [f"/api/sessions/{session.pk}/frames", f"/api/frames/{frame.pk}"],
        "checkins": [f"/api/checkins?session={session.pk}"],
        "playlist": [
            f"/api/sessions/{session.pk}/playlist",
            f"/api/sessions/{session.pk}/playlists",
        ],
        "events_stream": [f"/api/sessions/{session.pk}/events?seconds=0.2"],
        "listening": [f"/api/sessions/{session.pk}/playback"],
        "what_works": [f"/api/patients/{patient.pk}/what-works"],
    }
    for action, paths in reads.items():
        for path in paths:
            response = client.get(
                path, HTTP_ACCEPT="text/event-stream" if "events" in path else "application/json"
            )
            assert response.status_code == 200, (path, response.status_code)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
        rows = AuditLog.objects.filter(action=action, actor=therapist, patient=patient)
        assert rows.count() == len(paths), action


def test_a_patient_reading_their_own_data_is_not_an_audit_event(
    patient: User, client_for: Any
) -> None:
    session = make_session(patient)
    client_for(patient).get(f"/api/sessions/{session.pk}/readings")
    assert not AuditLog.objects.exists()


def test_an_admin_opening_an_account_page_is_audited(admin_user: User, patient: User) -> None:
    client = Client()
    client.force_login(admin_user)
    assert client.get(f"/admin/accounts/user/{patient.pk}/change/").status_code == 200
    assert AuditLog.objects.filter(action="admin_view", actor=admin_user, patient=patient).exists()


# 13. consent given to an old notice keeps analysis running


def test_a_new_notice_version_stops_uploads_and_analysis_until_consent_is_renewed(
    patient: User, client_for: Any, settings: Any
) -> None:
    session = make_session(patient)
    queued = _upload(client_for(patient), session)
    assert queued.status_code == 202
    settings.CONSENT_NOTICE_VERSION = "2027-01"
    lease = timedelta(minutes=5)
    claim = analysis.claim_frame(frame_id=queued.json()["id"], lease=lease)
    assert isinstance(claim, analysis.Claim) and not claim.consented  # the worker fails it
    upload = _upload(client_for(patient), session)
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "consent_required"
    assert client_for(patient).post("/api/me/consent", {}, format="json").status_code == 201
    renewed = _upload(client_for(patient), session)
    assert renewed.status_code == 202
    claim = analysis.claim_frame(frame_id=renewed.json()["id"], lease=lease)
    assert isinstance(claim, analysis.Claim) and claim.consented


# 14. a patient overwrites the therapist's notes (or the reverse)


def test_each_note_is_written_by_its_author_only(
    patient: User, therapist: User, client_for: Any
) -> None:
    session = make_session(patient, notes="my own words")
    TherapySession.objects.filter(pk=session.pk).update(therapist_notes="clinical")
    url = f"/api/sessions/{session.pk}"
    assert client_for(patient).patch(url, {"therapist_notes": ""}, format="json").status_code == 403
    assert client_for(therapist).patch(url, {"notes": ""}, format="json").status_code == 403
    session.refresh_from_db()
    assert (session.notes, session.therapist_notes) == ("my own words", "clinical")
    assert "therapist_notes" not in client_for(patient).get(url).json()
    assert client_for(therapist).get(url).json()["therapist_notes"] == "clinical"


# 15. existence leaks: someone else's data answers differently from missing data


def test_someone_elses_patient_or_session_looks_exactly_like_a_missing_one(
    patient: User, other_therapist: User, client_for: Any
) -> None:
    session = make_session(patient)
    browser = Client()
    browser.force_login(other_therapist)
    assert browser.get(f"/patients/{patient.pk}/").status_code == 404
    assert browser.get("/patients/999999/").status_code == 404
    assert browser.get(f"/sessions/{session.pk}/").status_code == 404
    assert browser.get("/sessions/999999/").status_code == 404
    api = client_for(other_therapist)
    for query in (f"patient={patient.pk}", "patient=999999"):
        assert api.get(f"/api/sessions?{query}").status_code == 404
        assert api.get(f"/api/checkins?{query}").status_code == 404
    for query in (f"session={session.pk}", "session=999999"):
        assert api.get(f"/api/checkins?{query}").status_code == 404


# 16. a JPEG comment survives metadata stripping


def test_no_metadata_survives_an_upload(patient: User, client_for: Any, media_root: Path) -> None:
    session = make_session(patient)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(
        out, format="JPEG", comment=b"patient-name:Jane", icc_profile=b"\x00" * 128
    )
    response = _upload(client_for(patient), session, out.getvalue())
    assert response.status_code == 202
    [stored] = [p for p in Path(media_root).rglob("*") if p.is_file()]
    data = stored.read_bytes()
    assert b"patient-name" not in data
    assert b"\xff\xfe" not in data[: data.index(b"\xff\xda")]  # no COM segment before the scan
    assert not Image.open(io.BytesIO(data)).info.get("icc_profile")


# 17. ids past the database's integer range


@pytest.mark.parametrize(
    "path",
    [
        f"/api/reports/patients/{HUGE}/trend",
        f"/api/reports/patients/{HUGE}/export.csv",
        f"/api/reports/patients/{HUGE}/report.pdf",
        f"/api/reports/sessions/{HUGE}",
        f"/api/sessions/{HUGE}",
        f"/api/sessions/{HUGE}/readings",
        f"/api/sessions/{HUGE}/playlist",
        f"/api/frames/{HUGE}",
        f"/api/checkins/{HUGE}",
        f"/api/sessions?patient={HUGE}",
        f"/patients/{HUGE}/",
        f"/sessions/{HUGE}/",
    ],
)
def test_an_out_of_range_id_is_a_404(path: str, therapist: User, client_for: Any) -> None:
    if path.startswith("/api/"):
        assert client_for(therapist).get(path).status_code == 404
    else:
        browser = Client()
        browser.force_login(therapist)
        assert browser.get(path).status_code == 404


def test_an_out_of_range_id_in_an_admin_filter_is_a_404(admin_user: User, client_for: Any) -> None:
    response = client_for(admin_user).get(f"/api/audit?patient={HUGE}")
    assert response.status_code in (400, 404)


def _upload(client: Any, session: TherapySession, data: bytes | None = None) -> Any:
    if data is None:
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 80, 40)).save(out, format="JPEG")
        data = out.getvalue()
    return client.post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", data, "application/octet-stream")},
        format="multipart",
    )
