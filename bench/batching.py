"""What batching buys the worker: pipeline frames/s by batch size on this machine's device.

    python -m bench.batching [--sizes 1,4,8,16] [--threads 1,0] [--seconds 5] [--json]

Runs the worker's own pipeline (same min face size) on 640x480 one-face frames; warms up,
synchronises CUDA when used, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--device", default=os.environ.get("ML_DEVICE", "auto"))
    parser.add_argument("--threads", default="1,0", help="torch threads to try (0: default)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()

    import torch

    from bench.env import environment
    from bench.faces import face_frames
    from ml import EmotionPipeline
    from ml.preprocessing import decode_image
    from workers import config

    pipeline = EmotionPipeline.from_checkpoint(
        device=args.device, min_face_size=config.MIN_FACE_SIZE
    )
    frames = [decode_image(data) for data in face_frames()]
    sync = torch.cuda.synchronize if pipeline.device.startswith("cuda") else (lambda: None)
    default_threads = torch.get_num_threads()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for threads in (int(t) or default_threads for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        by_size = results.setdefault(f"threads={threads}", {})
        for size in (int(s) for s in args.sizes.split(",")):
            batch = [frames[i % len(frames)] for i in range(size)]
            pipeline(batch)  # warm-up
            sync()
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < args.seconds:
                faces = pipeline(batch)
                done += size
            sync()
            elapsed = time.perf_counter() - started
            by_size[str(size)] = {
                "frames_per_s": round(done / elapsed, 2),
                "ms_per_frame": round(1000 * elapsed / done, 1),
                "faces_found": sum(len(f) for f in faces),
            }
            if not args.json:
                print(f"threads {threads} batch {size:>3}: {by_size[str(size)]}", flush=True)
    out = {
        "benchmark": "worker_batching",
        "pipeline_device": pipeline.device,
        "min_face_size": config.MIN_FACE_SIZE,
        "results": results,
        **environment(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
