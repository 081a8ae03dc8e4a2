"""The ASGI application the production server runs (deploy/serve.py, `make serve`).

One thread hop per request: Django's own ASGI handler runs every middleware's request and
response hooks in the request's thread through a hop each (sync_to_async), about a dozen per
request with our middleware; this handler runs the whole (synchronous) middleware chain and
the view in one hop. Views stay synchronous; the live-events stream is an async iterator the
server drives in its event loop after the view has returned, so it still holds no thread.

Outside production (SERVE_STATIC, default on unless DJANGO_ENV=production) it also serves the
static files itself, so `make serve` needs no proxy; in production the proxy serves them.
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        chain: Any = self._middleware_chain  # type: ignore[has-type]
        self._middleware_chain = sync_to_async(chain, thread_sensitive=True)


django.setup(set_prefix=False)
application = OneHopASGIHandler()
if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
