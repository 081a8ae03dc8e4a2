"""Where reliability tests leave their figures for `make reliability` (tests/reliability/run.py):
one JSON file per test in RELIABILITY_REPORT_DIR when it is set, nothing otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def record(name: str, report: dict[str, Any]) -> None:
    folder = os.environ.get("RELIABILITY_REPORT_DIR")
    if folder:
        (Path(folder) / f"{name}.json").write_text(json.dumps(report, default=str))
