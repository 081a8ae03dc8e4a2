"""Prometheus metrics at /api/metrics, one scrape for the whole cluster.

Workers on any number of machines add their counts (frames by outcome, upload-to-result
latency buckets) to one Redis hash through record_frames(); the web process turns that hash,
the queue depths and the worker heartbeats into Prometheus text at scrape time. So nothing has
to discover worker hosts, and a restarted worker loses no history. In the embedded mode
(filesystem broker, no Redis) only queue depth and heartbeats are exported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.common import health

logger = logging.getLogger(__name__)

METRICS_KEY = "moodtune:metrics"
# Upload-to-result latency buckets, in seconds.
LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("done", "no_face", "failed")


def _bucket_field(bound: float) -> str:
    return f"latency_le_{bound}"


def record_frames(outcomes: Sequence[tuple[str, float]], *, batch_seconds: float) -> None:
    """Add one worker batch: (final status, upload-to-result seconds) per frame.

    Best effort: metrics must never fail a frame, so a Redis error is only logged.
    """
    client = health.broker_redis()
    if client is None or not outcomes:
        return
    pipe = client.pipeline(transaction=False)
    for status, latency in outcomes:
        pipe.hincrby(METRICS_KEY, f"frames_{status}", 1)
        for bound in LATENCY_BUCKETS:
            if latency <= bound:
                pipe.hincrby(METRICS_KEY, _bucket_field(bound), 1)
        pipe.hincrby(METRICS_KEY, "latency_count", 1)
        pipe.hincrbyfloat(METRICS_KEY, "latency_sum", latency)
    pipe.hincrby(METRICS_KEY, "batches", 1)
    pipe.hincrby(METRICS_KEY, "batch_frames", len(outcomes))
    pipe.hincrbyfloat(METRICS_KEY, "batch_seconds", batch_seconds)
    try:
        pipe.execute()
    except Exception as exc:
        logger.warning("metrics not recorded: %s", exc)


class ClusterCollector:
    """Reads the shared counters, queue depths and heartbeats at scrape time."""

    def collect(self) -> Iterable[Any]:
        depth = GaugeMetricFamily(
            "moodtune_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for queue, n in health.queue_depths().items():
            depth.add_metric([queue], n)
        yield depth
        yield GaugeMetricFamily(
            "moodtune_workers_alive",
            "Workers whose heartbeat is fresh",
            value=len(health.read_heartbeats()),
        )
        client = health.broker_redis()
        if client is None:
            return
        raw = {k.decode(): float(v) for k, v in client.hgetall(METRICS_KEY).items()}
        frames = CounterMetricFamily(
            "moodtune_frames", "Frames analysed by final status", labels=["status"]
        )
        for outcome in OUTCOMES:
            frames.add_metric([outcome], raw.get(f"frames_{outcome}", 0.0))
        yield frames
        buckets = [(str(b), raw.get(_bucket_field(b), 0.0)) for b in LATENCY_BUCKETS]
        buckets.append(("+Inf", raw.get("latency_count", 0.0)))
        yield HistogramMetricFamily(
            "moodtune_frame_latency_seconds",
            "Upload to result written, per frame",
            buckets=buckets,
            sum_value=raw.get("latency_sum", 0.0),
        )
        yield CounterMetricFamily(
            "moodtune_worker_batches", "Pipeline batches run", value=raw.get("batches", 0.0)
        )
        yield CounterMetricFamily(
            "moodtune_worker_batch_frames",
            "Frames run through the pipeline in batches",
            value=raw.get("batch_frames", 0.0),
        )


class MetricsView(APIView):
    """GET /api/metrics: Prometheus text format (aggregates only, nothing per patient)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ClusterCollector())
        try:
            body = generate_latest(registry)
        except Exception as exc:
            logger.error("metrics: broker unreachable: %s", exc)
            return HttpResponse("# broker unreachable\n", status=503, content_type="text/plain")
        return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
