"""Property-based fuzzing of the whole REST API from its own OpenAPI schema (/api/schema/):
for every operation schemathesis generates requests (valid and schema-violating ones), sent
in-process through the WSGI app as an authenticated patient (token auth), a bounded number per
operation. Every answer must be a non-5xx: malformed input is the client's error, never a crash.

Logout and password change are left out: they revoke the token the fuzzer authenticates with,
which would only turn every later request into a 401.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests import fuzzing
from tests.backend.conftest import make_checkin, make_reading, make_session
from tests.conftest import ROOT
from tests.reliability.report import record

EXCLUDED_PATHS = ("/api/auth/logout", "/api/auth/password")
MAX_EXAMPLES = 12


def fuzz_operations(token: str, max_examples: int = MAX_EXAMPLES) -> dict[str, Any]:
    """Run every operation's examples; return counts and the server errors found."""
    return fuzzing.fuzz_operations(
        token, include=lambda path: path not in EXCLUDED_PATHS, max_examples=max_examples
    )


@pytest.mark.slow
def test_no_api_operation_answers_a_patient_with_a_server_error(
    wsgi_in_test_transaction: None, patient: Any, therapist: Any
) -> None:
    session = make_session(patient)
    make_reading(session)
    make_checkin(session)
    token = Token.objects.create(user=patient).key
    report = fuzz_operations(token)
    record("fuzz-patient", report)
    assert report["operations"] >= 40, report
    assert report["server_errors"] == [], report["server_errors"]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("RELIABILITY") != "1",
    reason="the other personas' fuzz runs in `make reliability` (RELIABILITY=1)",
)
@pytest.mark.parametrize("persona", ["therapist", "admin_user"])
def test_no_api_operation_answers_staff_with_a_server_error(
    persona: str, wsgi_in_test_transaction: None, patient: Any, request: Any
) -> None:
    user = request.getfixturevalue(persona)
    session = make_session(patient)
    make_reading(session)
    make_checkin(session)
    report = fuzz_operations(Token.objects.create(user=user).key)
    record(f"fuzz-{persona}", report)
    assert report["server_errors"] == [], report["server_errors"]


_OTHER_BACKEND_SUITE = [
    "tests/reliability/test_fuzz_api.py::test_no_api_operation_answers_a_patient_with_a_server_error",
    "tests/security/test_data_access.py::test_an_out_of_range_id_is_a_404",
]


@pytest.mark.slow
def test_the_api_fuzz_also_passes_on_the_embedded_sqlite_database(tmp_path: Any) -> None:
    """Some crashes exist on one database only (an id past SQLite's integer range was a 500
    there and a 404 on PostgreSQL): when this run uses PostgreSQL, the fuzz and the
    out-of-range attacks run once more on SQLite, in a fresh process, as a new user's
    `make test` would."""
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("this run itself is on SQLite: the fuzz above already covered it")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["VAR_DIR"] = str(tmp_path / "var")
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *_OTHER_BACKEND_SUITE, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout.splitlines()[-1]
