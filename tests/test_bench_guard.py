"""Benchmarks only ever touch a database of their own (its name ends in `_bench`): a
DATABASE_URL naming anything else is refused before any connection is made."""

from __future__ import annotations

import pytest

from bench import env
from bench import reports as reports_benchmark


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres@127.0.0.1:5432/moodtune",
        "postgres://postgres@127.0.0.1:5432/production",
        "postgres://postgres@127.0.0.1:5432/bench_not_at_the_end",
    ],
)
def test_a_benchmark_refuses_a_database_that_is_not_its_own(url: str) -> None:
    with pytest.raises(SystemExit, match="_bench"):
        reports_benchmark.prepare_database(url, readings=1, patients=1, reseed=True)
    with pytest.raises(SystemExit, match="_bench"):
        env.recreate_database(url)


def test_a_benchmark_derives_a_database_of_its_own() -> None:
    url = env.bench_database_url("postgres://u@h:5432/moodtune", "capacity")
    assert url == "postgres://u@h:5432/moodtune_capacity_bench"
