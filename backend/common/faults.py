"""Named fault points for the fault tests (`make test`, `make reliability`): with
FAULT_POINTS=name[,name] set, the process dies on the spot (like kill -9) or hangs when it
reaches that point. Empty (the default and the only sane production value): every point is a
no-op."""

from __future__ import annotations

import logging
import os
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# the points the code defines and what each does (an unknown FAULT_POINTS entry is refused)
EXIT, HANG = "exit", "hang"
ACTIONS = {"after_image_deleted": EXIT, "before_publish": EXIT, "hang_in_analysis": HANG}
POINTS = frozenset(ACTIONS)


def fault_point(name: str) -> None:
    if name not in settings.FAULT_POINTS:
        return
    if ACTIONS[name] == EXIT:
        logger.error("fault point %s reached: exiting now (FAULT_POINTS)", name)
        os._exit(137)
    logger.error("fault point %s reached: hanging (FAULT_POINTS)", name)
    while True:  # short sleeps, so a time-limit signal can still interrupt it
        time.sleep(0.1)
