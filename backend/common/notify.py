"""Notices for live streams, over the broker's Redis pub/sub (best effort: a missed notice only
delays a stream until its next periodic look).

- session channel: something new in a session (a frame analysed) -> streams query it again;
- access channel: someone's access to a patient's data may have changed (an assignment ended,
  consent withdrawn, a role changed, the patient erased) -> streams on that patient check
  their viewer's access again and end when it is gone.

At the bottom of the app order, so accounts and therapy can both send them.
"""

from __future__ import annotations

import logging

from django.db import transaction

from backend.common.health import broker_redis

logger = logging.getLogger(__name__)

SESSION_CHANNEL = "moodtune:session:{}"
ACCESS_CHANNEL = "moodtune:access:{}"
PATTERNS = ("moodtune:session:*", "moodtune:access:*")


def _publish(channel: str) -> None:
    client = broker_redis()
    if client is None:
        return  # embedded mode: streams look every second instead
    try:
        client.publish(channel, "1")
    except Exception as exc:  # best effort by design (see the module docstring)
        logger.warning("live notice not published channel=%s: %s", channel, exc)


def session_changed(session_id: int) -> None:
    _publish(SESSION_CHANNEL.format(session_id))


def access_changed(patient_id: int) -> None:
    """After the surrounding transaction commits (streams must see the new state)."""
    transaction.on_commit(lambda: _publish(ACCESS_CHANNEL.format(patient_id)))
