"""The worker's Celery app, configured from Django settings (CELERY_ namespace).

JSON only; tasks are acknowledged after they finish (acks_late) and put back when the worker
process dies mid-task (reject_on_worker_lost), so a crash never loses a frame; each worker
takes one message at a time (prefetch 1) because a task drains the frame queue by itself.
"""

from __future__ import annotations

import os

from celery import Celery, Task
from celery.exceptions import InvalidTaskError
from celery.worker.request import Request

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from workers import config  # noqa: E402


class ValidatingRequest(Request):
    """Turns a message whose body is not Celery's (args, kwargs, embed) triple into an
    InvalidTaskError, which the consumer rejects (drops, logged). Without this, Celery 5.7
    raises ValueError outside its error handling, the worker exits, and the late-acked
    message is restored to the queue: every restarted worker takes it and dies again."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        try:
            super().__init__(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            raise InvalidTaskError(f"malformed task message body: {exc}") from exc


class BaseTask(Task):
    Request = ValidatingRequest


app = Celery("moodtune-worker", task_cls=BaseTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
transport_options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
if "visibility_timeout" in transport_options:
    transport_options["visibility_timeout"] = config.VISIBILITY_TIMEOUT
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    result_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=config.TASK_TIME_LIMIT,
    task_soft_time_limit=max(1, config.TASK_TIME_LIMIT - 10),
    task_default_queue=settings.CELERY_LIGHT_QUEUE,
    task_routes={
        "analyse_frame": {"queue": settings.CELERY_FRAMES_QUEUE},
        "refresh_recommendations": {"queue": settings.CELERY_LIGHT_QUEUE},
    },
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # a worker waits out a broker outage
    worker_hijack_root_logger=False,
    worker_cancel_long_running_tasks_on_connection_loss=False,
)
app.conf.imports = ("workers.tasks", "workers.tasks_light", "workers.lifecycle")
