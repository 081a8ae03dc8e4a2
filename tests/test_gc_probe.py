"""bench/gc_probe times the garbage collector inside a process that Python starts with it on
PYTHONPATH, and bench.capacity's gc_pauses() sums up one window of what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.capacity import gc_pauses, gc_probed

# Builds a heap of cycles, then asks for two full collections.
CHILD = """
import gc
junk = []
for _ in range(200_000):
    node = {}
    node["self"] = node
    junk.append(node)
gc.collect()
del junk
gc.collect()
"""


def _run(env: dict[str, str], folder: Path) -> None:
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=120, cwd=folder)


def test_full_collections_are_timed_and_summed_up_by_window(tmp_path: Path) -> None:
    started = time.time()
    _run(gc_probed(dict(os.environ), tmp_path), tmp_path)
    ended = time.time()
    (log,) = tmp_path.glob("*.jsonl")
    assert log.stem.isdigit()  # one file per process id
    summary = gc_pauses(tmp_path, started, ended)
    assert summary["full_collections"] >= 2
    assert summary["full_ms_max"] >= summary["full_ms_median"] > 0
    assert gc_pauses(tmp_path, ended + 1, ended + 2)["full_collections"] == 0


def test_without_a_folder_the_probe_records_nothing(tmp_path: Path) -> None:
    env = gc_probed(dict(os.environ), tmp_path)
    del env["GC_PAUSE_DIR"]  # the probe is on the path but has no folder
    _run(env, tmp_path)
    assert not list(tmp_path.iterdir())
