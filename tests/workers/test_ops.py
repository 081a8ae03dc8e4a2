"""Health, metrics, heartbeats, and the upload's answer when the broker refuses the task."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.exceptions import OperationalError

from backend.common import health, metrics
from backend.therapy.models import Frame
from tests.backend.conftest import make_session
from tests.workers import support

pytestmark = pytest.mark.django_db


def test_health_reports_states_and_counts_only(client_for):
    response = client_for(None).get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert set(body) == {"status", "database", "broker", "workers", "queues"}
    assert set(body["workers"]) == {"alive", "frames", "newest_heartbeat_age_s"}
    text = response.content.decode()
    for secret in ("postgres://", "redis://", "127.0.0.1", "password"):
        assert secret not in text


def test_a_fresh_frames_heartbeat_makes_health_ok(client_for, settings):
    health.write_heartbeat(worker="test-heartbeat@here", queues=[settings.CELERY_FRAMES_QUEUE])

    body = client_for(None).get("/api/health").json()

    assert body["status"] == "ok"
    assert body["workers"]["frames"] >= 1
    assert body["workers"]["newest_heartbeat_age_s"] < 5


def test_health_is_503_when_the_broker_is_unreachable(client_for, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{support.free_port()}/0"

    response = client_for(None).get("/api/health")

    assert response.status_code == 503
    assert response.json()["broker"] == "down" and response.json()["status"] == "down"


def test_metrics_export_frame_counters_latency_histogram_and_queue_depth(client_for, settings):
    if not health.broker_is_redis():
        pytest.skip("cluster counters live in the broker's Redis")
    before = client_for(None).get("/api/metrics").content.decode()
    metrics.record_frames([("done", 0.12), ("failed", 3.0)], batch_seconds=0.2)

    text = client_for(None).get("/api/metrics").content.decode()

    def value(body: str, name: str) -> float:
        line = next(line for line in body.splitlines() if line.startswith(name + " "))
        return float(line.split()[-1])

    done = 'moodtune_frames_total{status="done"}'
    assert value(text, done) == value(before, done) + 1
    le = 'moodtune_frame_latency_seconds_bucket{le="0.15"}'
    assert value(text, le) == value(before, le) + 1
    assert f'moodtune_queue_depth{{queue="{settings.CELERY_FRAMES_QUEUE}"}}' in text


@pytest.mark.django_db(transaction=True)  # a real commit, so the enqueue really runs
def test_upload_refused_by_the_broker_is_503_and_leaves_no_row_or_file(
    patient, client_for, monkeypatch, tmp_path, settings
):
    from backend.config.celery import app

    def broker_down(*args, **kwargs):  # the network edge: what kombu raises when Redis is gone
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    session = make_session(patient)
    image = SimpleUploadedFile("f.jpg", support.face_jpeg(), content_type="image/jpeg")

    settings.MEDIA_ROOT = tmp_path

    response = client_for(patient).post(f"/api/sessions/{session.pk}/frames", {"image": image})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    assert not Frame.objects.exists()
    assert not list(tmp_path.rglob("*.jpg"))
