from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.catalogue.models import Track
from backend.recommendations.models import (
    FeedbackKind,
    Listening,
    PlaybackEvent,
    PlaybackKind,
    Recommendation,
    RecommendationItem,
    TrackFeedback,
)
from backend.recommendations.services import MAX_LENGTH


class TrackBriefSerializer(serializers.ModelSerializer[Track]):
    """audio_url: the track's local audio (played in an <audio> element) or null; tracks
    without one play in Spotify's embed player from external_id."""

    audio_url = serializers.SerializerMethodField()

    def get_audio_url(self, track: Track) -> str | None:
        return f"/api/tracks/{track.pk}/audio" if track.audio_file else None

    class Meta:
        model = Track
        fields = [
            "id",
            "external_id",
            "external_url",
            "title",
            "artist",
            "album",
            "genre",
            "duration_ms",
            "tempo",
            "energy",
            "valence",
            "mood_region",
            "audio_url",
        ]
        read_only_fields = fields


class PlaylistTrackSerializer(serializers.ModelSerializer[RecommendationItem]):
    """One track of a playlist with its place on the plane and the reason it was chosen;
    `feedback` is the patient's latest feedback on it in this session (or null)."""

    track = TrackBriefSerializer(read_only=True)
    feedback = serializers.SerializerMethodField()

    class Meta:
        model = RecommendationItem
        fields = [
            "id",
            "position",
            "track",
            "track_valence",
            "track_arousal",
            "waypoint_valence",
            "waypoint_arousal",
            "cost",
            "reason",
            "already_played",
            "gain",
            "feedback",
        ]
        read_only_fields = fields

    def get_feedback(self, item: RecommendationItem) -> str | None:
        return self.context.get("feedback", {}).get(item.track_id)


class RecommendationSerializer(serializers.ModelSerializer[Recommendation]):
    tracks = PlaylistTrackSerializer(source="items", many=True, read_only=True)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "session",
            "created_at",
            "goal",
            "length",
            "start_valence",
            "start_arousal",
            "mood_source",
            "target_valence",
            "target_arousal",
            "trigger",
            "inputs",
            "tracks",
        ]
        read_only_fields = fields


class PlaylistRequestSerializer(serializers.Serializer[None]):
    length = serializers.IntegerField(min_value=1, max_value=MAX_LENGTH, required=False)


KIND_ALIASES = {"play": "played", "skip": "skipped", "like": "liked", "dislike": "disliked"}


class FeedbackKindField(serializers.ChoiceField):
    """played / skipped / liked / disliked (play, skip, like, dislike are accepted too)."""

    def to_internal_value(self, data: object) -> str:
        return str(super().to_internal_value(KIND_ALIASES.get(str(data), data)))


class TrackFeedbackSerializer(serializers.ModelSerializer[TrackFeedback]):
    kind = FeedbackKindField(choices=FeedbackKind.choices)
    valence = serializers.FloatField(min_value=-1, max_value=1, required=False, allow_null=True)
    arousal = serializers.FloatField(min_value=-1, max_value=1, required=False, allow_null=True)

    class Meta:
        model = TrackFeedback
        fields = ["id", "session", "track", "kind", "created_at", "valence", "arousal", "word"]
        read_only_fields = ["id", "session", "created_at"]


class PlaybackRequestSerializer(serializers.Serializer[None]):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=PlaybackKind.choices)
    position_ms = serializers.IntegerField(min_value=0, max_value=4_000_000)
    client_event_id = serializers.CharField(max_length=64, required=False, default="")


class PlaybackEventSerializer(serializers.ModelSerializer[PlaybackEvent]):
    class Meta:
        model = PlaybackEvent
        fields = ["id", "item", "track", "listening", "kind", "position_ms", "at"]
        read_only_fields = fields


class TrackNameSerializer(serializers.ModelSerializer[Track]):
    class Meta:
        model = Track
        fields = ["id", "title", "artist"]
        read_only_fields = fields


class ListeningSerializer(serializers.ModelSerializer[Listening]):
    """One played stretch and what it did: effect_* (change in the smoothed mood over it, and
    along the goal's direction) are null when the faces and check-ins say nothing about it."""

    track = TrackNameSerializer(read_only=True)

    class Meta:
        model = Listening
        fields = [
            "id",
            "item",
            "track",
            "goal",
            "started_at",
            "ended_at",
            "outcome",
            "start_position_ms",
            "end_position_ms",
            "listened_ms",
            "effect_valence",
            "effect_arousal",
            "effect_variance",
            "effect_progress",
            "effect_faces",
            "effect_source",
        ]
        read_only_fields = fields


class LearningSwitchSerializer(serializers.Serializer[None]):
    enabled = serializers.BooleanField()


# --- "what works": the documented response of GET /api/patients/{id}/what-works ---------------


class FeatureEffectSerializer(serializers.Serializer[Any]):
    feature = serializers.CharField()  # a learning.FEATURES name
    effect = serializers.FloatField()  # along the goal's direction, per track
    interval90 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    clear = serializers.BooleanField()  # the interval excludes 0
    words = serializers.CharField()  # the end of the feature that helps, in words


class TrackEffectSerializer(serializers.Serializer[Any]):
    track = TrackNameSerializer()
    progress = serializers.FloatField()
    interval90 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    plays = serializers.IntegerField()
    sessions = serializers.IntegerField()


class GoalEffectsSerializer(serializers.Serializer[Any]):
    features = FeatureEffectSerializer(many=True)
    tracks = TrackEffectSerializer(many=True)
    measured_plays = serializers.IntegerField()


class GoalsSerializer(serializers.Serializer[Any]):
    calm = GoalEffectsSerializer()
    uplift = GoalEffectsSerializer()
    energise = GoalEffectsSerializer()


class WhatWorksSerializer(serializers.Serializer[Any]):
    patient = serializers.IntegerField()
    learning_enabled = serializers.BooleanField()
    sessions = serializers.IntegerField()
    measured_stretches = serializers.IntegerField()
    model = serializers.CharField()
    notice = serializers.CharField()
    goals = GoalsSerializer()
