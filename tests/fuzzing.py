"""Schema-driven API fuzzing shared by the test suites: schemathesis generates requests (valid
and schema-violating) for each OpenAPI operation of /api/schema/ and sends them in-process
through the WSGI app with token auth. Server errors are collected, never raised, so one run
reports every failing operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from backend.config.wsgi import application


def fuzz_operations(
    token: str, *, include: Callable[[str], bool], max_examples: int
) -> dict[str, Any]:
    """Run `max_examples` cases of every operation whose path `include` accepts."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    headers = {"Authorization": f"Token {token}"}
    tried: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not include(operation.path):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            tried[operation.label] = tried.get(operation.label, 0) + 1
            if response.status_code >= 500:
                errors.append(
                    {
                        "operation": operation.label,
                        "status": response.status_code,
                        "path": case.formatted_path,
                        "query": case.query,
                        "body": repr(case.body)[:300],
                    }
                )

        run()
    return {"operations": len(tried), "inputs": sum(tried.values()), "server_errors": errors}
