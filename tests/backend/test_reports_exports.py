"""CSV exports (streamed), the one-page PDF and the PNG/SVG charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from pypdf import PdfReader

from backend.reports import exports
from tests.backend.conftest import make_checkin, make_reading, make_session

PERIOD = {"start": "2026-03-01", "end": "2026-03-31", "tz": "UTC"}


@pytest.fixture
def seeded(patient):
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    session = make_session(patient, started_at=start, ended_at=start + timedelta(minutes=30))
    for i, v in enumerate([0.1, 0.3, 0.5]):
        make_reading(session, captured_at=start + timedelta(minutes=i), valence=v)
    checkin = make_checkin(session, "after")
    checkin.created_at = start + timedelta(minutes=31)
    checkin.save()
    return session


def parsed(text: str) -> list[list[float | str]]:
    def value(cell: str) -> float | str:
        try:
            return float(cell)
        except ValueError:
            return cell

    return [[value(c) for c in row] for row in csv.reader(io.StringIO(text))]


def rows_of(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_readings_export_streams_every_reading_in_time_order(
    patient, therapist, seeded, client_for
):
    response = client_for(therapist).get(
        f"/api/reports/patients/{patient.pk}/export.csv", {"kind": "readings", **PERIOD}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    assert [float(r["valence"]) for r in rows] == [0.1, 0.3, 0.5]
    assert rows[0]["captured_at"] == "2026-03-02T10:00:00.000000+00:00"
    assert rows[0]["is_primary"] == "1"
    assert rows[0]["session_id"] == str(seeded.pk)
    assert rows[0]["p_happy"] == "0.7"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares the PostgreSQL fast path")
def test_postgresql_fast_path_writes_the_same_rows_as_the_portable_path(patient, seeded):
    make_reading(
        seeded,
        captured_at=datetime(2026, 3, 2, 10, 5, 0, 123456, tzinfo=UTC),
        valence=-0.123456789,
        model_version='odd,"name"',
    )
    bounds = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    fast = "".join(exports.readings_csv_postgresql(patient.pk, *bounds))
    portable = "".join(exports.readings_csv_portable(patient.pk, *bounds))
    assert parsed(fast) == parsed(portable)  # "0" and "0.0" are the same number
    assert len(fast.splitlines()) == 5


def test_sessions_and_daily_exports_carry_the_report_figures(patient, seeded, client_for):
    client = client_for(patient)
    url = f"/api/reports/patients/{patient.pk}/export.csv"
    sessions = rows_of(client.get(url, {"kind": "sessions", **PERIOD}))
    assert len(sessions) == 1
    assert float(sessions[0]["mean_valence"]) == pytest.approx(0.3)
    assert float(sessions[0]["minutes"]) == 30.0
    daily = rows_of(client.get(url, {"kind": "daily", **PERIOD}))
    assert len(daily) == 31
    day = next(r for r in daily if r["day"] == "2026-03-02")
    assert (day["readings"], day["sessions"], day["checkins"]) == ("3", "1", "1")
    assert float(day["valence_mean"]) == pytest.approx(0.3)
    assert client.get(url, {"kind": "frames"}).status_code == 400


def test_pdf_report_has_the_patients_figures_then_what_works(
    patient, therapist, seeded, client_for
):
    response = client_for(therapist).get(
        f"/api/reports/patients/{patient.pk}/report.pdf", {"bucket": "day", **PERIOD}
    )
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 2
    text = reader.pages[0].extract_text()
    assert "Mood report: pat" in text
    assert "Sessions: 1" in text
    assert "Mean detected valence +0.30" in text
    music = reader.pages[1].extract_text()
    assert "What works for pat" in music and "No measured responses yet." in music
    assert "not a diagnosis" in " ".join(music.split())


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_trend_chart_renders(patient, seeded, client_for, fmt, magic):
    response = client_for(patient).get(
        f"/api/reports/patients/{patient.pk}/chart.{fmt}", {"bucket": "day", **PERIOD}
    )
    assert response.status_code == 200
    assert response.content.startswith(magic)
