"""Report numbers against known seeded data: session report, trend buckets (DST, half-hour
zones, empty periods), rollups of settled sessions, trend slope, flags, caseload, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.common.models import AuditLog
from backend.reports.models import MoodRollup, SessionSummary
from backend.reports.stats import linear_trend, t95
from backend.therapy.models import Frame
from tests.backend.conftest import make_checkin, make_reading, make_session

HAPPY = dict(emotion="happy", p_happy=0.7, p_sad=0.05)
SAD = dict(emotion="sad", p_happy=0.05, p_sad=0.7)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def seed_session(patient: Any, start: datetime, valences: list[float], **kw: Any) -> Any:
    """A session with one primary reading per minute carrying the given valences."""
    session = make_session(patient, started_at=start, ended_at=start + timedelta(hours=1), **kw)
    for i, v in enumerate(valences):
        mood = HAPPY if v >= 0 else SAD
        make_reading(
            session, captured_at=start + timedelta(minutes=i), valence=v, arousal=v / 2, **mood
        )
    return session


def test_session_report_counts_frames_moods_and_checkins(patient, therapist, client_for):
    start = at(2026, 3, 2, 10)
    session = seed_session(patient, start, [-0.4, 0.0, 0.2, 0.6])
    # a second face in the last frame is stored but does not drive the patient's mood
    make_reading(session, face_index=1, is_primary=False, captured_at=start, valence=-1.0)
    Frame.objects.create(
        session=session, content_hash="1" * 64, width=1, height=1, status="no_face"
    )
    Frame.objects.create(session=session, content_hash="2" * 64, width=1, height=1, status="failed")
    make_checkin(session, "before")

    body = client_for(therapist).get(f"/api/reports/sessions/{session.pk}").json()

    assert body["frames"] == {"total": 7, "analysed": 5, "no_face": 1, "failed": 1, "pending": 0}
    assert body["readings"] == 4
    assert body["valence"]["mean"] == pytest.approx(0.1)
    assert body["valence"]["sd"] == pytest.approx(0.4163, abs=1e-4)
    assert body["emotion_share"]["happy"] == pytest.approx(0.75)
    assert body["emotion_share"]["sad"] == pytest.approx(0.25)
    assert body["mean_probability"]["happy"] == pytest.approx((0.7 * 3 + 0.05) / 4)
    # 4 readings: start and end are the first and last reading alone
    assert body["start"]["valence"] == pytest.approx(-0.4)
    assert body["end"]["valence"] == pytest.approx(0.6)
    assert body["change"]["valence"] == pytest.approx(1.0)
    assert body["checkins"]["before"]["word"] == "tired"
    assert body["checkins"]["after"] is None
    assert [p["valence"] for p in body["timeline"]] == pytest.approx([-0.4, 0.0, 0.2, 0.6])
    assert body["timeline"][0]["valence_smoothed"] == pytest.approx((-0.4 + 0.0 + 0.2) / 3)
    assert body["tracks"] == []  # nothing was played in this session


def test_session_without_readings_reports_empty_figures(patient, client_for):
    session = make_session(patient)
    body = client_for(patient).get(f"/api/reports/sessions/{session.pk}").json()
    assert body["readings"] == 0
    assert body["valence"] == {"mean": None, "sd": None}
    assert body["timeline"] == []
    assert body["start"] == {"valence": None, "arousal": None}


def test_weekly_trend_means_spread_and_empty_weeks(patient, therapist, client_for):
    seed_session(patient, at(2026, 3, 2, 10), [0.2, 0.4])  # Monday, week 1
    seed_session(patient, at(2026, 3, 18, 10), [-0.5, -0.1, 0.0])  # week 3

    body = (
        client_for(therapist)
        .get(
            f"/api/reports/patients/{patient.pk}/trend",
            {"bucket": "week", "start": "2026-03-02", "end": "2026-03-22", "tz": "UTC"},
        )
        .json()
    )

    weeks = body["buckets"]
    assert [b["start"][:10] for b in weeks] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert weeks[0]["readings"] == 2
    assert weeks[0]["valence"]["mean"] == pytest.approx(0.3)
    assert weeks[0]["valence"]["sd"] == pytest.approx(0.1414, abs=1e-4)
    assert weeks[0]["arousal"]["mean"] == pytest.approx(0.15)
    assert weeks[0]["sessions"] == {"count": 1, "total_minutes": 60.0, "mean_minutes": 60.0}
    assert weeks[1]["readings"] == 0
    assert weeks[1]["valence"] == {"mean": None, "sd": None}
    assert weeks[1]["sessions"]["count"] == 0
    assert weeks[2]["valence"]["mean"] == pytest.approx(-0.2)
    assert weeks[2]["emotion_share"]["sad"] == pytest.approx(2 / 3)
    assert weeks[2]["emotion_share"]["happy"] == pytest.approx(1 / 3)


def test_day_buckets_follow_local_days_across_the_dst_change(patient, therapist, client_for):
    # Europe/London leaves summer time at 02:00 BST on Sunday 25 Oct 2026 (a 25-hour day).
    session = make_session(patient, started_at=at(2026, 10, 24, 22), ended_at=at(2026, 10, 26, 1))
    make_reading(session, captured_at=at(2026, 10, 24, 22, 50), valence=-0.8)  # 23:50 BST, 24th
    make_reading(session, captured_at=at(2026, 10, 24, 23, 10), valence=0.2)  # 00:10 BST, 25th
    make_reading(session, captured_at=at(2026, 10, 25, 23, 50), valence=0.4)  # 23:50 GMT, 25th
    make_reading(session, captured_at=at(2026, 10, 26, 0, 10), valence=0.9)  # 00:10 GMT, 26th

    body = (
        client_for(therapist)
        .get(
            f"/api/reports/patients/{patient.pk}/trend",
            {"bucket": "day", "start": "2026-10-24", "end": "2026-10-26", "tz": "Europe/London"},
        )
        .json()
    )

    days = body["buckets"]
    assert [(b["start"], b["end"]) for b in days] == [
        ("2026-10-24T00:00:00+01:00", "2026-10-25T00:00:00+01:00"),
        ("2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+00:00"),
        ("2026-10-26T00:00:00+00:00", "2026-10-27T00:00:00+00:00"),
    ]
    assert [b["readings"] for b in days] == [1, 2, 1]
    assert days[1]["valence"]["mean"] == pytest.approx(0.3)
    # the session started on the 24th local time, so it counts there
    assert [b["sessions"]["count"] for b in days] == [1, 0, 0]


def test_buckets_in_a_half_hour_zone_and_the_users_own_zone(patient, therapist, client_for):
    therapist.time_zone = "Asia/Kolkata"  # UTC+05:30
    therapist.save()
    session = make_session(patient, started_at=at(2026, 5, 1, 18), ended_at=at(2026, 5, 1, 19))
    make_reading(session, captured_at=at(2026, 5, 1, 18, 20), valence=0.5)  # 23:50 IST, 1 May
    make_reading(session, captured_at=at(2026, 5, 1, 18, 40), valence=-0.5)  # 00:10 IST, 2 May
    session.ended_at = at(2026, 5, 1, 19)
    session.save()

    body = (
        client_for(therapist)
        .get(
            f"/api/reports/patients/{patient.pk}/trend",
            {"bucket": "day", "start": "2026-05-01", "end": "2026-05-02"},
        )
        .json()
    )

    assert body["tz"] == "Asia/Kolkata"
    assert [b["valence"]["mean"] for b in body["buckets"]] == [0.5, -0.5]


def test_settled_sessions_are_rolled_up_once_and_give_the_same_numbers(patient, client_for):
    old = seed_session(patient, at(2026, 3, 2, 10), [0.2, 0.4, 0.6])
    live = make_session(patient, started_at=timezone.now() - timedelta(minutes=5))
    make_reading(live, captured_at=timezone.now() - timedelta(minutes=1), valence=-0.3)
    url = f"/api/reports/patients/{patient.pk}/trend"
    this_year = timezone.now().year  # the window holds both the old and the live session
    params = {
        "bucket": "month",
        "start": f"{min(2026, this_year)}-01-01",
        "end": f"{max(2026, this_year)}-12-31",
        "tz": "UTC",
    }

    first = client_for(patient).get(url, params).json()
    assert SessionSummary.objects.filter(pk=old.pk).exists()
    assert not SessionSummary.objects.filter(pk=live.pk).exists()  # still running
    assert MoodRollup.objects.filter(session=old).count() == 1  # 3 minutes: one quarter hour
    second = client_for(patient).get(url, params).json()

    assert first["buckets"] == second["buckets"]
    march = next(b for b in first["buckets"] if b["start"].startswith("2026-03"))
    assert march["valence"]["mean"] == pytest.approx(0.4)
    assert march["within_session_change"]["valence"] == pytest.approx(0.4)
    now_month = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m")
    current = next(b for b in first["buckets"] if b["start"].startswith(now_month))
    assert current["valence"]["mean"] == pytest.approx(-0.3)  # the live session, from raw rows


def test_patient_with_no_sessions_gets_empty_buckets_and_an_observation(
    patient, therapist, client_for
):
    body = (
        client_for(therapist)
        .get(f"/api/reports/patients/{patient.pk}/trend", {"bucket": "week"})
        .json()
    )
    assert len(body["buckets"]) in (12, 13)
    assert all(b["readings"] == 0 and b["sessions"]["count"] == 0 for b in body["buckets"])
    assert body["trend"]["valence"]["slope"] is None
    assert [f["code"] for f in body["flags"]] == ["no_recent_session"]


def test_a_past_period_makes_no_observation_about_recent_sessions(patient, client_for):
    body = (
        client_for(patient)
        .get(
            f"/api/reports/patients/{patient.pk}/trend",
            {"start": "2025-01-01", "end": "2025-03-31"},
        )
        .json()
    )
    assert body["flags"] == []


def test_trend_slope_and_sustained_fall_flag(patient, therapist, client_for):
    base = timezone.now() - timedelta(weeks=5)
    for week, v in enumerate([0.5, 0.4, 0.3, 0.2, 0.1]):
        seed_session(patient, base + timedelta(weeks=week), [v, v])

    body = (
        client_for(therapist)
        .get(f"/api/reports/patients/{patient.pk}/trend", {"bucket": "week", "flag_sessions": 4})
        .json()
    )

    trend = body["trend"]["valence"]
    assert trend["n"] == 5
    assert trend["slope"] == pytest.approx(-0.1)
    assert trend["ci95"][0] == pytest.approx(-0.1) and trend["ci95"][1] == pytest.approx(-0.1)
    falling = [f for f in body["flags"] if f["code"] == "valence_falling"]
    assert falling and "last 4 sessions" in falling[0]["text"]


def test_linear_trend_interval_matches_textbook_values():
    fit = linear_trend([0, 1, 2, 3, 4], [1.0, 3.0, 2.0, 5.0, 4.0])
    assert fit["slope"] == pytest.approx(0.8)
    # se = sqrt(RSS/(n-2)/Sxx) = sqrt(3.6/3/10); t(0.975, 3) = 3.182
    half = 3.182 * (3.6 / 3 / 10) ** 0.5
    assert fit["ci95"] == pytest.approx([0.8 - half, 0.8 + half])
    assert t95(1000) == pytest.approx(1.9623, abs=1e-3)
    assert linear_trend([0, 1], [0, 1])["slope"] is None


def test_bad_parameters_are_refused_with_a_reason(patient, client_for):
    url = f"/api/reports/patients/{patient.pk}/trend"
    client = client_for(patient)
    assert client.get(url, {"tz": "Mars/Olympus"}).json()["error"]["code"] == "invalid_tz"
    assert client.get(url, {"bucket": "year"}).status_code == 400
    assert client.get(url, {"start": "2026-05-02", "end": "2026-05-01"}).status_code == 400
    assert client.get(url, {"bucket": "day", "start": "2020-01-01"}).status_code == 400


def test_caseload_lists_each_patient_with_last_session_and_flags(
    patient, other_patient, therapist, client_for
):
    from backend.accounts import services as account_services

    account_services.assign(therapist=therapist, patient=other_patient)
    seed_session(patient, timezone.now() - timedelta(days=200), [0.1])  # outside 90 days
    recent = seed_session(patient, timezone.now() - timedelta(days=2), [0.3, 0.5])

    rows = client_for(therapist).get("/api/reports/caseload").json()["patients"]

    by_name = {r["patient"]["username"]: r for r in rows}
    assert set(by_name) == {"pat", "otherpat"}
    assert by_name["pat"]["last_session"]["id"] == recent.pk
    assert by_name["pat"]["last_session"]["mean"]["valence"] == pytest.approx(0.4)
    assert by_name["pat"]["sessions_last_90_days"] == 1
    assert by_name["otherpat"]["last_session"] is None
    assert [f["code"] for f in by_name["otherpat"]["flags"]] == ["no_recent_session"]
    assert AuditLog.objects.filter(actor=therapist, action="caseload").count() == 2


def test_therapist_reads_are_audited_and_patients_own_reads_are_not(
    patient, therapist, admin_user, client_for
):
    session = seed_session(patient, at(2026, 3, 2, 10), [0.1])
    client_for(therapist).get(f"/api/reports/sessions/{session.pk}")
    client_for(therapist).get(f"/api/reports/patients/{patient.pk}/trend", {"tz": "UTC"})
    client_for(patient).get(f"/api/reports/patients/{patient.pk}/trend")

    log = client_for(admin_user).get("/api/audit", {"patient": patient.pk}).json()["results"]

    assert [(e["action"], e["actor_username"], e["patient"]) for e in log] == [
        ("trend", "ther", patient.pk),
        ("session_report", "ther", patient.pk),
    ]
    assert log[0]["params"] == {"tz": "UTC"}
    assert log[0]["path"] == f"/api/reports/patients/{patient.pk}/trend"


def test_audit_trail_is_read_only_in_django_admin(patient, therapist, admin_user, client):
    session = seed_session(patient, at(2026, 3, 2, 10), [0.1])
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(therapist)
    api.get(f"/api/reports/sessions/{session.pk}")
    entry = AuditLog.objects.get()
    client.force_login(admin_user)

    assert client.get("/admin/common/auditlog/").status_code == 200
    assert client.get(f"/admin/common/auditlog/{entry.pk}/change/").status_code == 200
    assert client.get("/admin/common/auditlog/add/").status_code == 403
    assert client.post(f"/admin/common/auditlog/{entry.pk}/delete/").status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_rollup_command_stores_settled_sessions_ahead_of_reports(patient):
    from django.core.management import call_command

    settled = seed_session(patient, at(2026, 3, 2, 10), [0.1, 0.2])
    running = make_session(patient)
    call_command("refresh_report_rollups", verbosity=0)
    assert SessionSummary.objects.get(pk=settled.pk).mean_valence == pytest.approx(0.15)
    assert not SessionSummary.objects.filter(pk=running.pk).exists()


def test_session_report_lists_tracks_played_with_the_mood_around_each(
    patient, therapist, client_for
):
    from backend.catalogue import services as catalogue
    from backend.recommendations.models import TrackFeedback

    track = catalogue.create_track(
        external_id="x1", title="Slow Air", artist="Quartet", duration_ms=200_000,
        valence=0.4, energy=0.3, danceability=0.3, acousticness=0.8, instrumentalness=0.9,
        speechiness=0.03, liveness=0.1, loudness=-12.0, tempo=80.0, mode=1, key=2,
    )  # fmt: skip
    start = at(2026, 3, 2, 10)
    session = seed_session(patient, start, [-0.2, 0.0, 0.4, 0.8])  # one reading a minute
    TrackFeedback.objects.create(
        session=session, patient=patient, track=track, kind="played",
        created_at=start + timedelta(minutes=2, seconds=30), valence=0.5, arousal=0.1,
    )  # fmt: skip
    TrackFeedback.objects.create(
        session=session, patient=patient, track=track, kind="liked", created_at=start
    )

    tracks = client_for(therapist).get(f"/api/reports/sessions/{session.pk}").json()["tracks"]

    assert len(tracks) == 1  # likes are not plays
    assert tracks[0]["track"] == {"id": track.pk, "title": "Slow Air", "artist": "Quartet"}
    # readings at 2:00 and 3:00 lie within 60 s of 2:30
    assert tracks[0]["detected_mood"]["readings"] == 2
    assert tracks[0]["detected_mood"]["valence"] == pytest.approx(0.6)
    assert tracks[0]["self_reported"] == {"valence": 0.5, "arousal": 0.1}
