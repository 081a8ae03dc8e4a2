"""The ASGI application the production server runs (deploy/serve.py, `make serve`).

One thread hop per request. Django's own ASGI handler hops to the request's thread for every
middleware hook (about a dozen per request with our middleware) and sends the request_started
and request_finished signals through hops of their own, gathered with asyncio: profiled under
`bench.capacity` (py-spy, GIL samples), the signal hops alone took about a quarter of the web
process's time. This handler does, in one hop: request_started, building the request, the whole
(synchronous) middleware chain and the view, and for an ordinary response its close(), which
sends request_finished (so the pooled database connection goes back before the bytes are sent).
Views stay synchronous. A streaming response (the live-events stream, an async iterator) is
sent as Django sends it, with its disconnect watch, on the event loop without a thread, and
closed with one more hop when it ends.

Outside production (SERVE_STATIC, default on unless DJANGO_ENV=production) it also serves the
static files itself, so `make serve` needs no proxy; in production the proxy serves them.
"""

import asyncio
import contextlib
import gc
import os
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import get_resolver, set_script_prefix


def request_threads() -> int:
    """As many request threads as the database pool has connections (10 without a pool), so
    that no request holds a thread while it waits for a connection."""
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    return int(pool["max_size"]) if isinstance(pool, dict) else 10


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # One pool of request threads per process. Django would start a thread per request
        # (a ThreadSensitiveContext each), which profiled at about 14% of the process's time.
        self.executor = ThreadPoolExecutor(request_threads(), thread_name_prefix="request")

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)  # the synchronous chain, run inside the hop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """Everything synchronous about one request, in the request's thread."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # request_finished: connections back to their pools
        return response

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            hop = sync_to_async(self.respond, thread_sensitive=False, executor=self.executor)
            response = await hop(scope, body_file)
            if response.streaming:
                await self.stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def stream(self, response: HttpResponseBase, receive: Any, send: Any) -> None:
        """Send a streaming response until it ends or the client goes; then close it."""
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(self.send_response(response, send)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(RequestAborted, asyncio.CancelledError):
                    await task
            close = sync_to_async(response.close, thread_sensitive=False, executor=self.executor)
            await close()


def preload() -> None:
    """Import now what the request path would otherwise import on its first use: every app's
    URLs and views, the Celery app and its broker transport, the cache, session and message
    backends, the database pool, the live hub's Redis client and the image decoders. Nothing
    here connects anywhere."""
    from django.core.cache import caches
    from django.utils.module_loading import import_string
    from kombu import Connection
    from PIL import Image

    from backend.common.health import broker_is_redis
    from backend.config.celery import app

    get_resolver().url_patterns  # noqa: B018 -- imports every app's urls and views
    Connection(app.conf.broker_url).get_transport_cls()
    for alias in settings.CACHES:
        caches[alias]  # builds the backend; it connects on first use
    import_module(settings.SESSION_ENGINE)
    import_string(settings.SESSION_SERIALIZER)
    import_string(settings.MESSAGE_STORAGE)
    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool"):
        import_module("psycopg_pool")
    if broker_is_redis():
        import_module("redis.asyncio")
    Image.preinit()


def settle_heap() -> None:
    """Preload, then move what start-up built out of the garbage collector's sight.

    CPython's full (generation 2) collection walks every tracked object: in a web process that
    is Django, DRF, Celery, the URL tree and a thousand modules, tens of thousands of objects
    that live as long as the process. gc.freeze() moves the start-up objects to the permanent
    generation, so full collections walk only what requests and streams have made since: under
    `python -m bench.capacity --patients 50 --watchers 250 --seconds 20 --fps 2
    --web-processes 2 --json` (100 uploads/s, 300 streams) the longest full collection of a
    run went from 85-96 ms to 16-19 ms (web_gc_pauses; deploy/CAPACITY.md, round 6)."""
    preload()
    gc.collect()
    gc.freeze()


django.setup(set_prefix=False)
application = OneHopASGIHandler()
if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
settle_heap()
