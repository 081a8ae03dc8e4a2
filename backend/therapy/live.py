"""Live results for a session's page: a server-sent-events stream of new readings and mood.

The worker publishes a notice after each committed frame (backend.common.notify). A stream
waits for that notice and only then runs one indexed query for readings past its cursor, so an
idle session costs the database nothing but a periodic look.

Under the ASGI server (production, `make serve`) a stream is an async generator: it waits on
one Redis pub/sub connection per process (`_Hub`), holds no thread while it waits, and stays
open for LIVE_STREAM_SECONDS (minutes), with keep-alive comments. Under a WSGI server (Django's
own, tests) the same steps run in a plain generator that holds its thread, so those streams
end after WSGI_STREAM_SECONDS. Either way the browser's EventSource reconnects by itself and
resumes from Last-Event-ID (the id of the last reading it saw).

Access is checked again whenever an access notice arrives for the patient (an assignment
ended, consent withdrawn, a role changed, the patient erased) and every REVALIDATE_SECONDS in
any case: the stream then ends with `event: end` and `reconnect: false`. Each user may hold
LIVE_MAX_STREAMS_PER_USER streams at once (429 past that), counted in Redis across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.accounts.selectors import may_follow_live
from backend.common import audit, notify
from backend.common.errors import ApplicationError
from backend.common.health import broker_redis
from backend.common.models import AuditAction

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
IDLE_POLL_SECONDS = 1.0  # without pub/sub (embedded mode)
REVALIDATE_SECONDS = 10.0  # access is checked at least this often, notices or not
MAX_BATCH = 200
WSGI_STREAM_SECONDS = 25.0  # a WSGI stream holds a thread: keep it short there
SLOT_TTL_SECONDS = 60  # a stream slot not refreshed for this long is freed (a dead process's)


def publish(*, session_id: int) -> None:
    """Tell followers of the session that something changed (best effort)."""
    notify.session_changed(session_id)


def stream_seconds(requested: str | None, *, limit: float | None = None) -> float:
    cap = float(settings.LIVE_STREAM_SECONDS if limit is None else limit)
    try:
        value = float(requested) if requested else cap
    except ValueError:
        value = cap
    return max(0.5, min(value, cap))


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


# --- how many streams a user holds --------------------------------------------------------

_local_slots: dict[int, dict[str, float]] = {}
_local_lock = threading.Lock()


def _slots_key(user_id: int) -> str:
    return f"moodtune:streams:{user_id}"


def acquire_slot(user_id: int) -> str | None:
    """A stream slot for the user, or None when they already hold the maximum."""
    limit, token, now = settings.LIVE_MAX_STREAMS_PER_USER, uuid.uuid4().hex, time.time()
    client = broker_redis()
    if client is None:
        with _local_lock:
            held = {t: exp for t, exp in _local_slots.get(user_id, {}).items() if exp > now}
            if len(held) >= limit:
                return None
            held[token] = now + SLOT_TTL_SECONDS
            _local_slots[user_id] = held
        return token
    key = _slots_key(user_id)
    pipe = client.pipeline()
    pipe.zremrangebyscore(key, 0, now)
    pipe.zadd(key, {token: now + SLOT_TTL_SECONDS})
    pipe.zcard(key)
    pipe.expire(key, SLOT_TTL_SECONDS)
    held = pipe.execute()[2]
    if held > limit:  # two racing opens may both step back: never both get in past the cap
        client.zrem(key, token)
        return None
    return token


def refresh_slot(user_id: int, token: str) -> None:
    expires = time.time() + SLOT_TTL_SECONDS
    client = broker_redis()
    if client is None:
        with _local_lock:
            _local_slots.setdefault(user_id, {})[token] = expires
        return
    client.zadd(_slots_key(user_id), {token: expires}, xx=True)
    client.expire(_slots_key(user_id), SLOT_TTL_SECONDS)


def release_slot(user_id: int, token: str) -> None:
    client = broker_redis()
    if client is None:
        with _local_lock:
            _local_slots.get(user_id, {}).pop(token, None)
        return
    try:
        client.zrem(_slots_key(user_id), token)
    except Exception as exc:  # the slot expires by itself (SLOT_TTL_SECONDS)
        logger.warning("stream slot not released user_id=%s: %s", user_id, exc)


# --- one stream's state and database work (sync; the async path runs it in a pool thread) --


class EventCursor:
    def __init__(
        self, *, session_id: int, patient_id: int, viewer_id: int, after_id: int, slot: str
    ) -> None:
        self.session_id, self.patient_id, self.viewer_id = session_id, patient_id, viewer_id
        self.cursor, self.slot = after_id, slot
        self.last_mood: Any = None
        self.checked_at = time.monotonic()
        self.more_pending = False
        self.deadline = self.last_sent = self.slot_refreshed = time.monotonic()

    def start(self, seconds: float) -> str:
        """Open the stream for `seconds`; the first SSE line (the browser's reconnect delay).

        Each stream gets a random phase for its keep-alives (and so for its periodic look at
        the database): streams opened together (a benchmark, or every browser reconnecting
        after a restart) would otherwise all poll in the same instant, every period. Measured
        with bench.capacity (300 streams): that burst was the upload latency's p99."""
        now = time.monotonic()
        self.deadline = now + seconds
        self.last_sent = now - random.uniform(0.0, KEEPALIVE_SECONDS / 2)
        return f"retry: {int(IDLE_POLL_SECONDS * 1000)}\n\n"

    def pace(self, chunks: list[str], ended: bool) -> tuple[list[str], float | None]:
        """After a poll: what to send now, and how long to wait for a notice before the next
        poll (None: the stream is over; 0: poll again at once, more readings are pending). The
        one place where both the WSGI and the ASGI stream decide keep-alives and the end."""
        now = time.monotonic()
        out = list(chunks)
        if out:
            self.last_sent = now
        if ended:
            return out, None
        left = self.deadline - now
        if left <= 0:
            return [*out, self._end(reconnect=True)], None
        if self.more_pending:
            return out, 0.0
        if now - self.last_sent >= KEEPALIVE_SECONDS:
            out.append(": keepalive\n\n")
            self.last_sent = now
        return out, min(left, self.last_sent + KEEPALIVE_SECONDS - now)

    def poll(self, *, recheck_access: bool) -> tuple[list[str], bool]:
        """The events to send now, and whether the stream is over."""
        from backend.therapy.models import EmotionReading, TherapySession
        from backend.therapy.serializers import EmotionReadingSerializer

        try:
            if time.monotonic() - self.slot_refreshed >= SLOT_TTL_SECONDS / 4:
                refresh_slot(self.viewer_id, self.slot)  # not on every poll: bursts poll often
                self.slot_refreshed = time.monotonic()
            if recheck_access or time.monotonic() - self.checked_at >= REVALIDATE_SECONDS:
                self.checked_at = time.monotonic()
                if not self._still_allowed():
                    return [self._end(reconnect=False, reason="access_ended")], True
            out = []
            readings = list(
                EmotionReading.objects.filter(
                    session_id=self.session_id, id__gt=self.cursor
                ).order_by("id")[:MAX_BATCH]
            )
            for reading in readings:
                self.cursor = reading.pk
                out.append(_event("reading", EmotionReadingSerializer(reading).data, reading.pk))
            self.more_pending = len(readings) == MAX_BATCH
            session = (
                TherapySession.objects.only(
                    "mood_valence", "mood_arousal", "mood_distribution", "mood_updated_at"
                )
                .filter(pk=self.session_id)
                .first()
            )
            if session is None:  # deleted (an erased patient) while streaming: stop for good
                return [*out, self._end(reconnect=False, reason="session_gone")], True
            if session.mood_updated_at != self.last_mood:
                self.last_mood = session.mood_updated_at
                out.append(_event("mood", _mood(session)))
            return out, False
        finally:
            if not connection.in_atomic_block:
                connection.close()  # never pin a database connection while a stream waits

    def _still_allowed(self) -> bool:
        return may_follow_live(viewer_id=self.viewer_id, patient_id=self.patient_id)

    def _end(self, *, reconnect: bool, reason: str = "time") -> str:
        data = {"last_event_id": self.cursor, "reconnect": reconnect, "reason": reason}
        return _event("end", data)

    def channels(self) -> tuple[str, str]:
        return (
            notify.SESSION_CHANNEL.format(self.session_id),
            notify.ACCESS_CHANNEL.format(self.patient_id),
        )


# --- waiting: a thread (WSGI) -------------------------------------------------------------


class _SyncWaiter:
    """Blocks its thread until a notice for the stream or the timeout; True for an access one."""

    def __init__(self, channels: tuple[str, str]) -> None:
        self.access_channel = channels[1].encode()
        self.pubsub = None
        client = broker_redis()
        if client is not None:
            try:
                self.pubsub = client.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(*channels)
            except Exception as exc:  # fall back to periodic looks
                logger.warning("live subscribe failed, polling instead: %s", exc)
                self.pubsub = None

    def wait(self, timeout: float) -> bool:
        if self.pubsub is None:
            time.sleep(min(timeout, IDLE_POLL_SECONDS))
            return False
        access = False
        try:
            message = self.pubsub.get_message(timeout=timeout)
            while message is not None:  # coalesce a burst into one query
                access |= message.get("channel") == self.access_channel
                message = self.pubsub.get_message(timeout=0.0)
        except Exception:  # Redis gone: look again after a pause
            time.sleep(min(timeout, IDLE_POLL_SECONDS))
        return access

    def close(self) -> None:
        if self.pubsub is not None:
            self.pubsub.close()


def sync_events(cursor: EventCursor, *, seconds: float) -> Iterator[str]:
    """SSE text: `reading` events (id = reading id) and `mood` events, then `end`."""
    waiter = _SyncWaiter(cursor.channels())
    yield cursor.start(seconds)
    try:
        recheck = False
        while True:
            out, wait = cursor.pace(*cursor.poll(recheck_access=recheck))
            yield from out
            if wait is None:
                return
            recheck = waiter.wait(wait) if wait > 0 else False
    finally:
        waiter.close()
        release_slot(cursor.viewer_id, cursor.slot)


# --- waiting: the event loop (ASGI) -------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.access = False

    def notify(self, channel: str) -> None:
        if channel.startswith("moodtune:access:"):
            self.access = True
        self.event.set()


class _Hub:
    """One Redis pub/sub connection per event loop (per server process), fanned out to every
    stream of that process: 300 streams cost one connection, not 300."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.boxes: dict[str, set[_Mailbox]] = {}
        self.task: asyncio.Task[None] | None = None

    def add(self, channels: tuple[str, ...], box: _Mailbox) -> None:
        for channel in channels:
            self.boxes.setdefault(channel, set()).add(box)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())

    def remove(self, channels: tuple[str, ...], box: _Mailbox) -> None:
        for channel in channels:
            boxes = self.boxes.get(channel)
            if boxes is not None:
                boxes.discard(box)
                if not boxes:
                    del self.boxes[channel]

    def _wake_all(self) -> None:
        for boxes in list(self.boxes.values()):
            for box in boxes:
                box.notify("moodtune:access:*")  # streams look again, access included

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self.url)
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(*notify.PATTERNS)
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()
                    for box in list(self.boxes.get(channel, ())):
                        box.notify(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: wake streams, retry soon
                logger.warning("live hub lost Redis, retrying: %s", exc)
                self._wake_all()
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()


_hubs: dict[int, _Hub] = {}


def _hub() -> _Hub | None:
    if broker_redis() is None:
        return None
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _hubs:
        _hubs[loop_id] = _Hub(str(settings.CELERY_BROKER_URL))
    return _hubs[loop_id]


async def async_events(cursor: EventCursor, *, seconds: float) -> AsyncIterator[str]:
    """The same stream as sync_events, without holding a thread while it waits."""
    poll = sync_to_async(cursor.poll, thread_sensitive=False)
    hub, box, channels = _hub(), _Mailbox(), cursor.channels()
    if hub is not None:
        hub.add(channels, box)
    yield cursor.start(seconds)
    try:
        recheck = False
        while True:
            out, wait = cursor.pace(*(await poll(recheck_access=recheck)))
            for chunk in out:
                yield chunk
            if wait is None:
                return
            if hub is None:  # no notices to wait for: look again soon
                wait = min(wait, IDLE_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(box.event.wait(), timeout=wait)
            recheck, box.access = box.access, False
            box.event.clear()
    finally:
        if hub is not None:
            hub.remove(channels, box)
        await sync_to_async(release_slot, thread_sensitive=False)(cursor.viewer_id, cursor.slot)


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
    # schema-driven clients and fuzzers would hold each stream open as if it were JSON.
    # Documented in workers/README.md ("Live results").
    @extend_schema(exclude=True)
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        from backend.therapy import selectors
        from backend.therapy.models import EmotionReading

        session = get_object_or_404(
            selectors.visible_sessions(request.user).select_related("patient"), pk=pk
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
        slot = acquire_slot(request.user.pk)
        if slot is None:
            raise ApplicationError(
                f"you already follow {settings.LIVE_MAX_STREAMS_PER_USER} live sessions: "
                "close one (another tab or window) first",
                code="too_many_streams",
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        audit.record_read(  # one row per stream opened, not per event
            actor=request.user,
            patients=[session.patient],
            action=AuditAction.EVENTS_STREAM,
            path=request.path,
            params={},
        )
        cursor = EventCursor(
            session_id=session.pk,
            patient_id=session.patient_id,
            viewer_id=request.user.pk,
            after_id=after_id,
            slot=slot,
        )
        requested = request.query_params.get("seconds")
        if isinstance(request._request, ASGIRequest):
            body: Any = async_events(cursor, seconds=stream_seconds(requested))
        else:
            limit = min(settings.LIVE_STREAM_SECONDS, WSGI_STREAM_SECONDS)
            body = sync_events(cursor, seconds=stream_seconds(requested, limit=limit))
        if not connection.in_atomic_block:
            # This request's thread keeps its database connection until the response ends,
            # i.e. for the whole stream: hand it back now (polls open their own, briefly).
            connection.close()
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # proxies: pass events through as they come
        return response
