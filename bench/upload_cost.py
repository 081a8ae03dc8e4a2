"""Where the web process's CPU goes for one frame upload.

    python -m bench.upload_cost --json

1. `validate_image` alone (size/format/header checks; for these upright JPEGs the metadata-free
   segment copy and its 1/8-scale check decode) on a 640x480 one-face JPEG, plain and with
   sensor-like noise (a bigger file);
2. a whole upload request through Django's test client against PostgreSQL and Redis
   (DATABASE_URL / REDIS_URL; in a database of its own, `<name>_uploadcost_bench`): CPU ms per
   upload, the same with an idempotency key (`cpu_ms_per_keyed_upload`), and as the browser
   sends a frame (`cpu_ms_per_browser_upload`: signed in with a session cookie, the CSRF header
   and an idempotency key), then cProfile's cumulative time of the main steps (token uploads).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from typing import Any

from bench.env import ROOT, environment, fresh_database

STEPS = {
    "accept_frame (row, commit, publish)": "services.py:accept_frame",
    "publish to the broker": "jobs.py:send_now",
    "validate_image": "uploads.py:validate_image",
    "load and check the session (and consent)": "views.py:_own_session_for_upload",
    "authentication and throttles": "views.py:initial",
}


def _median_ms(fn: Any, n: int = 60) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def _reset_upload_throttle(user_id: int) -> None:
    """DRF's throttle keeps every request of the last minute in one cached list, read and
    written whole on each request: without a reset the list of this benchmark's one patient
    grows across the phases (to 800+ entries) and each phase costs more than the one before.
    Each phase starts empty and ends near 200 entries, against ~120 for a patient sending
    2 frames/s (and at most 600, the default rate)."""
    from django.core.cache import cache

    from backend.therapy.views import UploadThrottle

    cache.delete(UploadThrottle.cache_format % {"scope": UploadThrottle.scope, "ident": user_id})


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--uploads", type=int, default=200)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output too)")
    args = ap.parse_args(argv)
    fresh_database("uploadcost", redis=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="uploadcost-media-")
    os.environ["UPLOAD_RATE"] = "1000000/min"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import numpy as np
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from PIL import Image
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from backend.accounts import services
    from backend.therapy.models import TherapySession
    from backend.therapy.uploads import validate_image
    from tests.workers.support import face_jpeg

    plain = face_jpeg()
    pixels = np.asarray(Image.open(io.BytesIO(plain)).convert("RGB")).astype(np.int16)
    noise = np.random.default_rng(0).normal(0, 12, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(buffer, "JPEG")
    noisy = buffer.getvalue()
    result: dict[str, Any] = {
        "benchmark": "upload_cost",
        "validate_image_ms": {
            f"plain_{len(plain) // 1024}_kib": _median_ms(lambda: validate_image(plain)),
            f"noisy_{len(noisy) // 1024}_kib": _median_ms(lambda: validate_image(noisy)),
        },
    }
    call_command("migrate", verbosity=0)
    patient = services.create_user(
        username="upload-cost", password="upload-cost-password-1", role="patient"
    )
    services.grant_consent(patient=patient)
    session = TherapySession.objects.create(patient=patient)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=patient).key}")

    browser = APIClient(enforce_csrf_checks=True)
    signed_in = browser.post(
        "/api/auth/login",
        {"username": "upload-cost", "password": "upload-cost-password-1"},
        format="json",
    )
    assert signed_in.status_code == 200, signed_in.content
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    keys = itertools.count()

    def upload(keyed: bool = False, by: Any = client, **headers: str) -> None:
        fields: dict[str, Any] = {"image": SimpleUploadedFile("f.jpg", noisy, "image/jpeg")}
        if keyed:  # as the browser sends every frame: an idempotency key of its own
            fields["client_frame_id"] = f"bench-{next(keys)}"
        response = by.post(
            f"/api/sessions/{session.pk}/frames", fields, format="multipart", **headers
        )
        assert response.status_code == 202, response.content

    for _ in range(10):
        upload()
        upload(True, browser, **csrf)
    for name, call in (
        ("cpu_ms_per_upload", lambda: upload()),
        ("cpu_ms_per_keyed_upload", lambda: upload(True)),
        ("cpu_ms_per_browser_upload", lambda: upload(True, browser, **csrf)),
    ):
        _reset_upload_throttle(patient.pk)
        started = time.process_time()
        for _ in range(args.uploads):
            call()
        result[name] = round(1000 * (time.process_time() - started) / args.uploads, 2)
    _reset_upload_throttle(patient.pk)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.uploads):
        upload()
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    steps = {}
    for label, where in STEPS.items():
        file, func = where.split(":")
        for (path, _, name), (_, _, _, cumulative, _) in stats.items():
            if path.endswith(file) and name == func:
                steps[label] = round(1000 * cumulative / args.uploads, 2)
    result["profiled_ms_per_upload"] = steps
    result.update(environment())
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
