"""bench/gc_probe times the garbage collector inside a process that Python starts with it on
PYTHONPATH, and bench.capacity's gc_pauses() sums up one window of what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.capacity import GC_PROBE, gc_pauses

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


def _run_probed(folder: Path, *, probe_dir: str | None) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(GC_PROBE), os.environ.get("PYTHONPATH", "")]),
    }
    if probe_dir is None:
        env.pop("GC_PAUSE_DIR", None)
    else:
        env["GC_PAUSE_DIR"] = probe_dir
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=120, cwd=folder)


def test_full_collections_are_timed_and_summed_up_by_window(tmp_path: Path) -> None:
    started = time.time()
    _run_probed(tmp_path, probe_dir=str(tmp_path))
    ended = time.time()
    (log,) = tmp_path.glob("*.jsonl")
    assert log.stem.isdigit()  # one file per process id
    summary = gc_pauses(tmp_path, started, ended)
    assert summary["full_collections"] >= 2
    assert summary["full_ms_max"] >= summary["full_ms_median"] > 0
    assert gc_pauses(tmp_path, ended + 1, ended + 2)["full_collections"] == 0


def test_without_a_folder_the_probe_records_nothing(tmp_path: Path) -> None:
    _run_probed(tmp_path, probe_dir=None)
    assert not list(tmp_path.iterdir())
