from __future__ import annotations

from rest_framework import serializers

from backend.catalogue.models import Track
from backend.recommendations.models import (
    FeedbackKind,
    Recommendation,
    RecommendationItem,
    TrackFeedback,
)
from backend.recommendations.services import MAX_LENGTH


class TrackBriefSerializer(serializers.ModelSerializer[Track]):
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
