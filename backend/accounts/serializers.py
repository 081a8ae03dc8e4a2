from __future__ import annotations

from zoneinfo import available_timezones

from rest_framework import serializers

from backend.accounts.models import Assignment, ConsentRecord, Role, User

# An IANA zone name or a clear 400 (reports bucket days in it).
TIME_ZONES = sorted(available_timezones())


class UserSerializer(serializers.ModelSerializer[User]):
    has_consent = serializers.SerializerMethodField()
    time_zone = serializers.ChoiceField(choices=TIME_ZONES, required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "time_zone",
            "is_active",
            "has_consent",
        ]
        read_only_fields = ["id", "role", "is_active", "has_consent"]

    def get_has_consent(self, user: User) -> bool:
        return user.is_patient and user.has_active_consent()


class AdminUserSerializer(serializers.ModelSerializer[User]):
    password = serializers.CharField(write_only=True, required=False, min_length=8)
    time_zone = serializers.ChoiceField(choices=TIME_ZONES, required=False)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "time_zone",
            "is_active",
            "password",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["id", "date_joined", "last_login"]


class LoginSerializer(serializers.Serializer[None]):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class PasswordChangeSerializer(serializers.Serializer[None]):
    old_password = serializers.CharField()
    new_password = serializers.CharField(min_length=8)


class AssignmentSerializer(serializers.ModelSerializer[Assignment]):
    therapist_username = serializers.CharField(source="therapist.username", read_only=True)
    patient_username = serializers.CharField(source="patient.username", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "therapist",
            "patient",
            "therapist_username",
            "patient_username",
            "started_at",
            "ended_at",
        ]
        read_only_fields = ["id", "started_at", "ended_at"]


class InvitationCreateSerializer(serializers.Serializer[None]):
    email = serializers.EmailField()


class InvitationLookupSerializer(serializers.Serializer[None]):
    token = serializers.CharField(max_length=200)


class InvitationAcceptSerializer(serializers.Serializer[None]):
    token = serializers.CharField()
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(min_length=8)


class ConsentSerializer(serializers.ModelSerializer[ConsentRecord]):
    class Meta:
        model = ConsentRecord
        fields = ["notice_version", "granted_at", "withdrawn_at"]
        read_only_fields = ["granted_at", "withdrawn_at"]
        extra_kwargs = {"notice_version": {"required": False}}


class ErasureSerializer(serializers.Serializer[None]):
    confirm = serializers.CharField(help_text="the patient's username, repeated")
