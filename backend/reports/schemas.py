"""The report payloads, described as serializers so the OpenAPI schema documents every key the
front end reads. The views build plain dicts (SQL aggregates); tests/backend/test_report_schemas
validates real responses against these, so the documentation cannot drift from the payloads."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.therapy.models import EMOTIONS

# one float (or null with no readings) per emotion label, in EMOTIONS order
EmotionShares = type(
    "EmotionShares",
    (serializers.Serializer,),
    {e: serializers.FloatField(allow_null=True) for e in EMOTIONS},
)


def _emotions() -> Any:
    return EmotionShares()


class MeanSd(serializers.Serializer[Any]):
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True)


class Point(serializers.Serializer[Any]):
    valence = serializers.FloatField(allow_null=True)
    arousal = serializers.FloatField(allow_null=True)


class Slope(serializers.Serializer[Any]):
    slope = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, min_length=2, max_length=2
    )
    n = serializers.IntegerField()


class Trend(serializers.Serializer[Any]):
    basis = serializers.CharField()
    per = serializers.CharField()
    valence = Slope()
    arousal = Slope()


class Flag(serializers.Serializer[Any]):
    code = serializers.CharField()
    text = serializers.CharField()


class BucketSessions(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    total_minutes = serializers.FloatField()
    mean_minutes = serializers.FloatField(allow_null=True)


class SelfReported(serializers.Serializer[Any]):
    checkins = serializers.IntegerField()
    valence = serializers.FloatField(allow_null=True)
    arousal = serializers.FloatField(allow_null=True)


class WithinSessionChange(serializers.Serializer[Any]):
    sessions = serializers.IntegerField()
    valence = serializers.FloatField(allow_null=True)
    arousal = serializers.FloatField(allow_null=True)


class Bucket(serializers.Serializer[Any]):
    start = serializers.CharField()
    end = serializers.CharField()
    readings = serializers.IntegerField()
    valence = MeanSd()
    arousal = MeanSd()
    emotion_share = _emotions()
    mean_probability = _emotions()
    sessions = BucketSessions()
    self_reported = SelfReported()
    within_session_change = WithinSessionChange()


class PatientTrendReport(serializers.Serializer[Any]):
    patient = serializers.IntegerField()
    bucket = serializers.CharField()
    tz = serializers.CharField()
    start = serializers.CharField()
    end = serializers.CharField()
    buckets = Bucket(many=True)
    trend = Trend()
    flags = Flag(many=True)


class CaseloadPatient(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField()


class LastSession(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    goal = serializers.CharField()
    started_at = serializers.CharField()
    ended_at = serializers.CharField(allow_null=True)
    minutes = serializers.FloatField(allow_null=True)
    readings = serializers.IntegerField()
    mean = Point()
    start = Point()
    end = Point()
    change = Point()


class CaseloadRow(serializers.Serializer[Any]):
    patient = CaseloadPatient()
    last_session = LastSession(allow_null=True)
    sessions_last_90_days = serializers.IntegerField()
    recent_trend = Trend()
    flags = Flag(many=True)


class CaseloadReport(serializers.Serializer[Any]):
    patients = CaseloadRow(many=True)


class ReportSession(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    goal = serializers.CharField()
    started_at = serializers.CharField()
    ended_at = serializers.CharField(allow_null=True)
    minutes = serializers.FloatField(allow_null=True)


class FrameCounts(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    analysed = serializers.IntegerField()
    no_face = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()


class CheckIn(serializers.Serializer[Any]):
    valence = serializers.FloatField()
    arousal = serializers.FloatField()
    word = serializers.CharField(allow_blank=True)
    created_at = serializers.CharField()


class CheckIns(serializers.Serializer[Any]):
    before = CheckIn(allow_null=True)
    after = CheckIn(allow_null=True)


class TimelinePoint(serializers.Serializer[Any]):
    t = serializers.CharField()
    readings = serializers.IntegerField()
    valence = serializers.FloatField(allow_null=True)
    arousal = serializers.FloatField(allow_null=True)
    valence_smoothed = serializers.FloatField(allow_null=True)
    arousal_smoothed = serializers.FloatField(allow_null=True)
    probabilities = _emotions()


class PlayedTrack(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField(allow_blank=True)


class MoodAround(serializers.Serializer[Any]):
    readings = serializers.IntegerField()
    valence = serializers.FloatField(allow_null=True)
    arousal = serializers.FloatField(allow_null=True)


class TrackPlayed(serializers.Serializer[Any]):
    at = serializers.CharField()
    kind = serializers.CharField()
    track = PlayedTrack()
    detected_mood = MoodAround()
    self_reported = Point()


class SessionReport(serializers.Serializer[Any]):
    session = ReportSession()
    frames = FrameCounts()
    readings = serializers.IntegerField()
    valence = MeanSd()
    arousal = MeanSd()
    emotion_share = _emotions()
    mean_probability = _emotions()
    start = Point()
    end = Point()
    change = Point()
    checkins = CheckIns()
    timeline = TimelinePoint(many=True)
    tracks = TrackPlayed(many=True)
