"""Worker knobs, from the environment (checked like every other setting; see README.md).

They only matter to worker processes, so they live here rather than in the web's settings.
"""

from __future__ import annotations

from datetime import timedelta

from backend.config.env import env_choice, env_int

# Frames one pipeline call takes at most; the worker fills the batch from the queued frames
# in the database (other workers' frames are never taken: claims are atomic). 0 = auto:
# 16 on CUDA, 1 on CPU, where with one torch thread batching measured no gain
# (python -m bench.batching) and only adds latency.
BATCH_SIZE = env_int("WORKER_BATCH_SIZE", 0, minimum=0)
AUTO_BATCH = {"cuda": 16, "cpu": 1}
# How long a worker with a partial batch waits for more frames before running it.
BATCH_WAIT_MS = env_int("WORKER_BATCH_WAIT_MS", 0, minimum=0)
# Smallest face the detector looks for (pixels): webcam faces are large, and each halving
# of this size adds pyramid levels and costs detector time.
MIN_FACE_SIZE = env_int("ML_MIN_FACE_SIZE", 60, minimum=12)
# Frames with no face found upright are detected again in turned and mirrored views (more
# faces found, no more false ones measured; ml/DETECTOR.md). `all`: the nine views of
# ml.pipeline.RETRY_VIEWS; `turned`: the four turned ones; `off`: none. The retry costs only
# on frames without a face: at min face 60 on one core ~8 of them per second with `all`
# against ~140 with `off` (python -m ml.bench_detector), so `turned` or `off` suit workers
# short of CPU with many patients away from their cameras.
RETRY_CHOICES = ("all", "turned", "off")  # as ml.pipeline.RETRY_CHOICES (no torch import here)
RETRY = env_choice("ML_RETRY", "all", RETRY_CHOICES)
# Hard limit per task (enforced by the prefork pool); the claim lease follows from it.
TASK_TIME_LIMIT = env_int("WORKER_TASK_TIME_LIMIT", 120, minimum=2)
# A claim older than this is presumed dead (its worker died) and may be taken over.
CLAIM_LEASE = timedelta(seconds=TASK_TIME_LIMIT + 5)
# Redis: an unacknowledged message comes back after this many seconds (a killed worker's).
VISIBILITY_TIMEOUT = env_int("WORKER_VISIBILITY_TIMEOUT", 3600, minimum=1)
# Transient errors (database or broker hiccups) are retried this often, with backoff.
TRANSIENT_RETRIES = env_int("WORKER_TRANSIENT_RETRIES", 20, minimum=0)
# Intra-op torch threads per worker process. On a small shared CPU one thread per process is
# several times faster than torch's default of one per core (no thread barriers under
# contention; see bench/batching.py --threads): scale CPU workers out with processes.
TORCH_THREADS = 1
