"""Times the garbage collector in the processes of a benchmarked server; not part of the product.

bench.capacity puts this folder on the web server's PYTHONPATH with GC_PAUSE_DIR set, so that
Python imports it at start-up in every server process. Each full (generation 2) collection, and
any other collection of 5 ms or more, is appended as a JSON line to GC_PAUSE_DIR/<pid>.jsonl:
wall time, generation, pause in milliseconds. The callback runs with the GIL held, so the
collector's start and stop calls of one collection always come in a pair.
"""

import gc
import json
import os
import time

_DIR = os.environ.get("GC_PAUSE_DIR", "")
_SLOW_MS = 5.0
_started = [0.0]


def _record(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    ms = 1000 * (time.perf_counter() - _started[0])
    if info["generation"] == 2 or ms >= _SLOW_MS:
        line = {"t": time.time(), "generation": info["generation"], "ms": round(ms, 2)}
        with open(os.path.join(_DIR, f"{os.getpid()}.jsonl"), "a") as out:
            out.write(json.dumps(line) + "\n")


if _DIR:
    gc.callbacks.append(_record)
