"""The Celery app as the web process sees it: a producer that sends tasks by name.

The worker side (workers/app.py) builds its consumer from the same Django settings.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("moodtune")
app.config_from_object("django.conf:settings", namespace="CELERY")
