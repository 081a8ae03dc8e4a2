"""Light tasks (the `light` queue): bookkeeping that must not wait behind frame analysis.

The recommender's refresh lives here; the backend enqueues it only when
backend.recommendations.services.refresh_for_session exists.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from backend.common.jobs import REFRESH_RECOMMENDATIONS
from workers.app import app

logger = logging.getLogger(__name__)


@app.task(
    name=REFRESH_RECOMMENDATIONS,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def refresh_recommendations(session_id: int) -> None:
    from backend.recommendations import services

    services.refresh_for_session(session_id=session_id)
    logger.info("recommendations refreshed session_id=%s", session_id)
