"""Uploading a frame puts an `analyse_frame` message with the frame id on the real broker
(Redis when REDIS_URL is set, as in CI), only after the transaction commits."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from backend.common import jobs
from backend.config.celery import app
from tests.backend.conftest import image_bytes, make_session


@pytest.fixture
def frames_queue(settings):  # type: ignore[no-untyped-def]
    """A queue of this test's own, so no worker or other test consumes its messages."""
    name = f"test-frames-{uuid.uuid4().hex[:8]}"
    settings.CELERY_FRAMES_QUEUE = name
    yield name
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)


def _drain(queue: str, timeout: float = 5.0) -> list:  # type: ignore[type-arg]
    messages = []
    with app.connection_for_read() as conn:
        simple = conn.SimpleQueue(queue, no_ack=True)
        try:
            while True:
                messages.append(simple.get(timeout=timeout))
                timeout = 0.5
        except simple.Empty:
            pass
        finally:
            simple.close()
    return messages


@pytest.mark.django_db(transaction=True)
def test_upload_enqueues_analyse_frame_with_frame_id(patient, client_for, frames_queue):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 202
    messages = _drain(frames_queue)
    assert len(messages) == 1
    message = messages[0]
    assert message.headers["task"] == jobs.ANALYSE_FRAME
    args, kwargs, _embed = message.payload
    assert args == [response.json()["id"]]
    assert kwargs == {}
    assert message.content_type == "application/json"


@pytest.mark.django_db(transaction=True)
def test_an_upload_writes_its_frame_in_one_statement_without_a_transaction_block(  # type: ignore[no-untyped-def]
    patient, client_for, frames_queue
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = make_session(patient)
    client = client_for(patient)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/sessions/{session.pk}/frames",
            {"image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")},
            format="multipart",
        )
    assert response.status_code == 202
    statements = [q["sql"].lstrip().split()[0].upper() for q in queries.captured_queries]
    assert statements.count("INSERT") == 1, statements
    assert not {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"} & set(statements), statements
    assert len(_drain(frames_queue)) == 1, "committed, then published"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_enqueues_nothing(frames_queue):  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.enqueue(jobs.ANALYSE_FRAME, 12345)
        raise RuntimeError("request failed after enqueue")
    assert _drain(frames_queue, timeout=1.0) == []


def test_unknown_task_name_is_refused():  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown task"):
        jobs.enqueue("no_such_task", 1)
