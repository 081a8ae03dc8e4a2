"""Named crash points for the fault tests (`make reliability`): with FAULT_POINTS=name[,name]
set, the process dies on the spot (like kill -9) when it reaches that point. Empty (the
default and the only sane production value): every point is a no-op."""

from __future__ import annotations

import logging
import os

from django.conf import settings

logger = logging.getLogger(__name__)

# the points the code defines (a FAULT_POINTS entry outside these is a typo: refused at start)
POINTS = frozenset({"after_image_deleted", "before_publish"})


def fault_point(name: str) -> None:
    if name in settings.FAULT_POINTS:
        logger.error("fault point %s reached: exiting now (FAULT_POINTS)", name)
        os._exit(137)
