"""The ASGI application the production server runs (deploy/serve.py, `make serve`).

Outside production (SERVE_STATIC, default on unless DJANGO_ENV=production) it also serves the
static files itself, so `make serve` needs no proxy; in production the proxy serves them.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

from django.conf import settings
from django.core.asgi import get_asgi_application

application = get_asgi_application()
if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
