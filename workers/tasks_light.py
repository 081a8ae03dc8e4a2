"""Light tasks (the `light` queue): bookkeeping that must not wait behind frame analysis.

The recommender's refresh (after a frame moved the session's mood) and its learning (after a
session ended) live here.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from backend.common.jobs import LEARN_FROM_SESSION, REFRESH_RECOMMENDATIONS
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


@app.task(
    name=LEARN_FROM_SESSION,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def learn_from_session(session_id: int) -> None:
    from backend.recommendations import services

    profile = services.learn_from_session(session_id=session_id)
    logger.info(
        "learned from session_id=%s stretches=%s",
        session_id,
        profile.evidence.get("count", 0) if profile else None,
    )
