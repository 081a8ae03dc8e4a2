"""The frame lifecycle's safety rules, on the real database: leases on the database clock,
lost messages re-sent once per lease, images deleted before they are forgotten, orphaned
images swept, idempotent uploads, captured_at bounded, erasure that reports what it could not
remove. (The same faults with real worker processes: tests/workers/test_lost_messages.py.)"""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from backend.accounts import privacy
from backend.common import jobs
from backend.common.dbclock import db_now
from backend.therapy import analysis, rescue
from backend.therapy.models import Frame
from backend.therapy.storage_sweep import sweep_orphaned_images
from tests.backend.conftest import make_session

pytestmark = pytest.mark.django_db
LEASE = timedelta(seconds=60)


def _frame(session: Any, **kwargs: Any) -> Frame:
    return Frame.objects.create(
        session=session, content_hash="0" * 64, width=64, height=48, **kwargs
    )


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Messages handed to the broker (the network edge), recorded instead of sent."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(jobs, "send_now", lambda name, *args: calls.append((name, args)))
    return calls


def test_the_database_clock_is_close_to_this_hosts_clock() -> None:
    assert abs((db_now() - timezone.now()).total_seconds()) < 5


def test_a_worker_whose_clock_runs_ahead_cannot_take_over_a_live_claim(
    patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame(make_session(patient))
    assert isinstance(analysis.claim_frame(frame_id=frame.pk, lease=LEASE), analysis.Claim)
    skewed = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: skewed)  # this host's clock is 2 h ahead
    assert isinstance(analysis.claim_frame(frame_id=frame.pk, lease=LEASE), analysis.Held)
    assert rescue.requeue_stuck_frames(processing_lease=LEASE) == 0


def test_a_queued_frame_whose_message_is_older_than_the_lease_is_resent_once(
    patient: Any, sent: list[Any]
) -> None:
    session = make_session(patient)
    lost = _frame(session)
    fresh = _frame(session)
    Frame.objects.filter(pk=lost.pk).update(uploaded_at=timezone.now() - timedelta(minutes=10))
    lease = timedelta(minutes=5)

    assert rescue.requeue_stuck_frames(processing_lease=LEASE, queued_lease=lease) == 1
    assert sent == [(jobs.ANALYSE_FRAME, (lost.pk,))]
    # a second sweep (another worker's heartbeat) within the lease sends nothing more
    assert rescue.requeue_stuck_frames(processing_lease=LEASE, queued_lease=lease) == 0
    assert Frame.objects.get(pk=fresh.pk).last_sent_at is None


def test_an_expired_claim_is_handed_back_and_resent(patient: Any, sent: list[Any]) -> None:
    frame = _frame(make_session(patient))
    analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    Frame.objects.filter(pk=frame.pk).update(claimed_at=db_now() - timedelta(minutes=5))
    assert rescue.requeue_stuck_frames(processing_lease=LEASE) == 1
    assert Frame.objects.get(pk=frame.pk).status == "queued"
    assert sent == [(jobs.ANALYSE_FRAME, (frame.pk,))]


def test_the_image_is_deleted_before_the_row_forgets_it(
    patient: Any, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(patient)
    name = default_storage.save(f"frames/{session.pk}/f.jpg", ContentFile(_jpeg()))
    frame = _frame(session, image=name)
    claim = analysis.claim_frame(frame_id=frame.pk, lease=LEASE)
    assert isinstance(claim, analysis.Claim)

    def crash(point: str) -> None:
        raise SystemExit(f"killed at {point}")  # the process dies before it commits

    monkeypatch.setattr(analysis, "fault_point", crash)
    with pytest.raises(SystemExit):
        analysis.record_result(claim=claim, faces=[], model_version="test@0")
    frame.refresh_from_db()
    assert frame.status == "processing" and frame.image.name == name  # nothing committed
    assert not (media_root / name).exists()  # ...but the file is already gone: no orphan


def test_the_sweep_removes_only_old_images_that_no_row_names(
    patient: Any, media_root: Path
) -> None:
    session = make_session(patient)
    kept = default_storage.save(f"frames/{session.pk}/kept.jpg", ContentFile(_jpeg()))
    _frame(session, image=kept)
    orphan = default_storage.save(f"frames/{session.pk}/orphan.jpg", ContentFile(_jpeg()))
    young = default_storage.save(f"frames/{session.pk}/young.jpg", ContentFile(_jpeg()))
    old = time.time() - 7200
    for name in (kept, orphan):
        os.utime(media_root / name, (old, old))

    assert sweep_orphaned_images(grace=timedelta(hours=1)) == [orphan]
    assert (media_root / kept).exists() and (media_root / young).exists()
    assert not (media_root / orphan).exists()


def _upload(client: Any, session: Any, **fields: Any) -> Any:
    return client.post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", _jpeg(), "image/jpeg"), **fields},
        format="multipart",
    )


def test_a_retried_upload_with_the_same_key_returns_the_first_answer(
    patient: Any, client_for: Any, media_root: Path
) -> None:
    session = make_session(patient)
    client = client_for(patient)
    first = _upload(client, session, client_frame_id="abc-1")
    again = _upload(client, session, client_frame_id="abc-1")
    by_header = client.post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", _jpeg(), "image/jpeg")},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="abc-1",
    )
    assert first.status_code == again.status_code == by_header.status_code == 202
    assert first.json()["id"] == again.json()["id"] == by_header.json()["id"]
    assert Frame.objects.filter(session=session).count() == 1
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 1
    other = _upload(client, session, client_frame_id="abc-2")
    assert other.json()["id"] != first.json()["id"]


def test_a_retry_after_the_session_ended_still_gets_the_first_answer(
    patient: Any, client_for: Any
) -> None:
    session = make_session(patient)
    client = client_for(patient)
    first = _upload(client, session, client_frame_id="late-1")
    client.post(f"/api/sessions/{session.pk}/end")
    again = _upload(client, session, client_frame_id="late-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    fresh = _upload(client, session, client_frame_id="late-2")
    assert fresh.status_code == 409 and fresh.json()["error"]["code"] == "session_ended"
    assert Frame.objects.filter(session=session).count() == 1


def test_a_first_upload_with_a_key_does_not_look_the_key_up(patient: Any, client_for: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = make_session(patient)
    client = client_for(patient)
    with CaptureQueriesContext(connection) as queries:
        assert _upload(client, session, client_frame_id="once-1").status_code == 202
    keyed = [q["sql"] for q in queries.captured_queries if "client_key" in q["sql"]]
    assert len(keyed) == 1 and keyed[0].lstrip().upper().startswith("INSERT"), keyed


def test_a_bad_idempotency_key_is_a_400(patient: Any, client_for: Any) -> None:
    response = _upload(client_for(patient), make_session(patient), client_frame_id="x" * 65)
    assert response.status_code == 400
    assert not Frame.objects.exists()


@pytest.mark.parametrize("offset", [timedelta(days=-2), timedelta(hours=1)])
def test_captured_at_far_from_the_session_is_refused(
    offset: timedelta, patient: Any, client_for: Any
) -> None:
    session = make_session(patient)
    response = _upload(
        client_for(patient), session, captured_at=(timezone.now() + offset).isoformat()
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "captured_at_out_of_range"
    assert not Frame.objects.exists()


def test_erasure_removes_every_file_it_can_and_reports_the_rest(
    patient: Any, admin_user: Any, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(patient)
    names = [
        default_storage.save(f"frames/{session.pk}/{i}.jpg", ContentFile(_jpeg())) for i in range(3)
    ]
    for name in names:
        _frame(session, image=name)
    real_delete = default_storage.delete

    def flaky(name: str) -> None:
        if name == names[0]:
            raise OSError("storage refused")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", flaky)
    counts = privacy.erase_patient(actor=admin_user, patient=patient, confirm="pat")
    assert counts["frame_images"] == 2 and counts["files_not_removed"] == 1
    assert (media_root / names[0]).exists()
    assert not (media_root / names[1]).exists() and not (media_root / names[2]).exists()
