"""Live results for a session's page: a server-sent-events stream of new readings and mood.

The worker calls publish() after each committed frame; a stream waits on that notification
(Redis pub/sub when the broker is Redis, a once-a-second look otherwise) and only then runs
one indexed query for readings past its cursor, so an idle session costs the database nothing
but a look every few seconds. Streams end after LIVE_STREAM_SECONDS so they never hold a web
worker thread for long; the browser's EventSource reconnects on its own and resumes from
Last-Event-ID (the id of the last reading it saw).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.common import audit
from backend.common.errors import ApplicationError
from backend.common.health import broker_redis
from backend.common.models import AuditAction

logger = logging.getLogger(__name__)

CHANNEL = "moodtune:session:{}"
KEEPALIVE_SECONDS = 10.0
IDLE_POLL_SECONDS = 1.0  # without pub/sub, and as a safety net with it
MAX_BATCH = 200


def publish(*, session_id: int) -> None:
    """Tell followers of the session that something changed (best effort)."""
    client = broker_redis()
    if client is None:
        return
    try:
        client.publish(CHANNEL.format(session_id), "1")
    except Exception as exc:  # a missed notice only delays the stream by IDLE_POLL_SECONDS
        logger.warning("live publish failed session_id=%s: %s", session_id, exc)


def stream_seconds(requested: str | None) -> float:
    limit = float(getattr(settings, "LIVE_STREAM_SECONDS", 25))
    try:
        value = float(requested) if requested else limit
    except ValueError:
        value = limit
    return max(0.5, min(value, limit))


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _mood(session: Any) -> dict[str, Any]:
    return {
        "valence": session.mood_valence,
        "arousal": session.mood_arousal,
        "distribution": session.mood_distribution,
        "updated_at": session.mood_updated_at.isoformat() if session.mood_updated_at else None,
    }


def _waiter(session_id: int) -> Any:
    """A callable(timeout) that returns when the session may have news."""
    client = broker_redis()
    pubsub = None
    if client is not None:
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL.format(session_id))
        except Exception as exc:
            logger.warning("live subscribe failed, polling instead: %s", exc)
            pubsub = None

    def wait(timeout: float) -> None:
        if pubsub is None:
            time.sleep(min(timeout, IDLE_POLL_SECONDS))
            return
        try:
            pubsub.get_message(timeout=min(timeout, IDLE_POLL_SECONDS * 5))
            while pubsub.get_message(timeout=0.0):  # coalesce a burst into one query
                pass
        except Exception:
            time.sleep(min(timeout, IDLE_POLL_SECONDS))

    wait.close = (lambda: pubsub.close()) if pubsub is not None else (lambda: None)  # type: ignore[attr-defined]
    return wait


def session_events(*, session_id: int, after_id: int, seconds: float) -> Iterator[str]:
    """SSE text: `reading` events (id = reading id) and `mood` events, then `end`."""
    from backend.therapy.models import EmotionReading, TherapySession
    from backend.therapy.serializers import EmotionReadingSerializer

    wait = _waiter(session_id)
    deadline = time.monotonic() + seconds
    last_mood = None
    last_sent = time.monotonic()
    cursor = after_id
    yield f"retry: {int(IDLE_POLL_SECONDS * 1000)}\n\n"
    try:
        while True:
            readings = list(
                EmotionReading.objects.filter(session_id=session_id, id__gt=cursor).order_by("id")[
                    :MAX_BATCH
                ]
            )
            for reading in readings:
                cursor = reading.pk
                last_sent = time.monotonic()
                yield _event("reading", EmotionReadingSerializer(reading).data, reading.pk)
            session = (
                TherapySession.objects.only(
                    "mood_valence", "mood_arousal", "mood_distribution", "mood_updated_at"
                )
                .filter(pk=session_id)
                .first()
            )
            if session is None:  # deleted (e.g. erased patient) while streaming: stop cleanly
                yield _event("end", {"last_event_id": cursor, "reconnect": False})
                return
            if session.mood_updated_at != last_mood:
                last_mood = session.mood_updated_at
                last_sent = time.monotonic()
                yield _event("mood", _mood(session))
            if not connection.in_atomic_block:
                connection.close()  # do not pin a database connection while waiting
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if len(readings) == MAX_BATCH:
                continue
            if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent = time.monotonic()
            wait(left)
        yield _event("end", {"last_event_id": cursor, "reconnect": True})
    finally:
        wait.close()


class EventStreamRenderer(BaseRenderer):
    """Lets DRF negotiate text/event-stream; errors become one `error` event."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return _event("error", data).encode() if data is not None else b""


class SessionEventsView(APIView):
    """GET /api/sessions/{id}/events: follow a session live (server-sent events).

    Resume with the Last-Event-ID header (or ?last_event_id=); ?seconds= shortens the stream.
    Without a cursor the stream starts with the readings of the last minute.
    """

    renderer_classes = [JSONRenderer, EventStreamRenderer]

    # Left out of the OpenAPI schema: OpenAPI 3.0 cannot describe an event stream, and
    # schema-driven clients and fuzzers would hold each 25 s stream open as if it were JSON.
    # Documented in workers/README.md ("Live results").
    @extend_schema(exclude=True)
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        from backend.therapy import selectors
        from backend.therapy.models import EmotionReading

        session = get_object_or_404(
            selectors.visible_sessions(request.user).select_related("patient"), pk=pk
        )
        audit.record_read(  # one row per stream opened, not per event
            actor=request.user,
            patients=[session.patient],
            action=AuditAction.EVENTS_STREAM,
            path=request.path,
            params={},
        )
        raw = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
        if raw is not None:
            try:
                after_id = int(raw)
            except ValueError:
                raise ApplicationError("Last-Event-ID must be a reading id") from None
        else:
            recent = EmotionReading.objects.filter(
                session=session, captured_at__lt=timezone.now() - timedelta(minutes=1)
            ).order_by("-id")
            after_id = recent.values_list("id", flat=True).first() or 0
        response = StreamingHttpResponse(
            session_events(
                session_id=session.pk,
                after_id=after_id,
                seconds=stream_seconds(request.query_params.get("seconds")),
            ),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
        return response
