from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework import serializers

from backend.therapy.models import (
    EMOTIONS,
    CheckInPhase,
    EmotionReading,
    Frame,
    MoodCheckIn,
    TherapySession,
)


class TherapySessionSerializer(serializers.ModelSerializer[TherapySession]):
    patient_username = serializers.CharField(source="patient.username", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = TherapySession
        fields = [
            "id",
            "patient",
            "patient_username",
            "goal",
            "started_at",
            "ended_at",
            "notes",
            "therapist_notes",
            "is_active",
            "mood_valence",
            "mood_arousal",
            "mood_distribution",
            "mood_updated_at",
        ]
        read_only_fields = [
            "id",
            "patient",
            "started_at",
            "ended_at",
            "mood_valence",
            "mood_arousal",
            "mood_distribution",
            "mood_updated_at",
        ]

    def to_representation(self, instance: TherapySession) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and request.user.pk == instance.patient_id:
            data.pop("therapist_notes")  # the therapists' working notes stay with them
        return data


class FrameUploadSerializer(serializers.Serializer[None]):
    image = serializers.FileField(allow_empty_file=True)
    captured_at = serializers.DateTimeField(required=False)
    # idempotency key (or the Idempotency-Key header): a retry with the same key returns the
    # first answer instead of creating a second frame
    client_frame_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,64}$", required=False, help_text="1-64 of A-Z a-z 0-9 _ . : -"
    )


class FrameSerializer(serializers.ModelSerializer[Frame]):
    class Meta:
        model = Frame
        fields = [
            "id",
            "session",
            "captured_at",
            "uploaded_at",
            "status",
            "error",
            "width",
            "height",
            "processed_at",
            "model_version",
        ]
        read_only_fields = fields

    @classmethod
    def receipt(cls, frame: Frame) -> dict[str, Any]:
        """`FrameSerializer(frame).data`, the answer to every upload, without building the
        serializer's ten fields from the model again for each one (a ModelSerializer does
        that per instance: most of the CPU of producing the answer). One instance per class,
        its fields built once, only reads them: to_representation keeps no state on it."""
        return cls._receipts().to_representation(frame)

    @classmethod
    @cache
    def _receipts(cls) -> FrameSerializer:
        prototype = cls()
        prototype.fields  # noqa: B018 (built here, once, before any thread reads it)
        return prototype


class EmotionReadingSerializer(serializers.ModelSerializer[EmotionReading]):
    box = serializers.SerializerMethodField()
    probabilities = serializers.SerializerMethodField()

    class Meta:
        model = EmotionReading
        fields = [
            "id",
            "frame",
            "session",
            "captured_at",
            "face_index",
            "is_primary",
            "box",
            "landmarks",
            "detection_score",
            "probabilities",
            "emotion",
            "confidence",
            "valence",
            "arousal",
            "model_version",
        ]
        read_only_fields = fields

    def get_box(self, reading: EmotionReading) -> list[float]:
        return [reading.box_x1, reading.box_y1, reading.box_x2, reading.box_y2]

    def get_probabilities(self, reading: EmotionReading) -> dict[str, float]:
        return {e: getattr(reading, f"p_{e}") for e in EMOTIONS}


class MoodCheckInSerializer(serializers.ModelSerializer[MoodCheckIn]):
    valence = serializers.FloatField(min_value=-1.0, max_value=1.0)
    arousal = serializers.FloatField(min_value=-1.0, max_value=1.0)
    phase = serializers.ChoiceField(choices=CheckInPhase.choices)

    class Meta:
        model = MoodCheckIn
        fields = [
            "id",
            "patient",
            "session",
            "phase",
            "valence",
            "arousal",
            "word",
            "note",
            "created_at",
        ]
        read_only_fields = ["id", "patient", "created_at"]

    def validate_session(self, session: Any) -> Any:
        request = self.context["request"]
        if session is not None and session.patient_id != request.user.pk:
            raise serializers.ValidationError("session not found")
        return session
