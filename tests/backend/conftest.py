"""Personas and factories for backend tests (real database: PostgreSQL when DATABASE_URL
is set, as in CI).

Personas: patient, other_patient, therapist (assigned to patient), other_therapist
(assigned to other_patient), admin.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts import services as account_services
from backend.accounts.models import Role, User
from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_user(username: str, role: str) -> User:
    return account_services.create_user(username=username, password=PASSWORD, role=role)


@pytest.fixture
def patient(db: None) -> User:
    user = make_user("pat", Role.PATIENT)
    account_services.grant_consent(patient=user)
    return user


@pytest.fixture
def other_patient(db: None) -> User:
    user = make_user("otherpat", Role.PATIENT)
    account_services.grant_consent(patient=user)
    return user


@pytest.fixture
def therapist(db: None, patient: User) -> User:
    user = make_user("ther", Role.THERAPIST)
    account_services.assign(therapist=user, patient=patient)
    return user


@pytest.fixture
def other_therapist(db: None, other_patient: User) -> User:
    user = make_user("otherther", Role.THERAPIST)
    account_services.assign(therapist=user, patient=other_patient)
    return user


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user("boss", Role.ADMIN)


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(out, format=fmt, **save)
    return out.getvalue()


def make_session(patient: User, **kwargs: Any) -> TherapySession:
    return TherapySession.objects.create(patient=patient, **kwargs)


def make_reading(session: TherapySession, *, face_index: int = 0, **kwargs: Any) -> EmotionReading:
    frame = Frame.objects.create(
        session=session, content_hash="0" * 64, width=64, height=48, status="done"
    )
    probs = dict(
        p_angry=0.05,
        p_disgust=0.0,
        p_fear=0.05,
        p_happy=0.7,
        p_sad=0.05,
        p_surprise=0.05,
        p_neutral=0.1,
    )
    fields: dict[str, Any] = dict(
        frame=frame,
        session=session,
        patient=session.patient,
        captured_at=frame.captured_at,
        face_index=face_index,
        box_x1=1,
        box_y1=2,
        box_x2=30,
        box_y2=40,
        landmarks=[[10, 10], [20, 10], [15, 20], [11, 30], [19, 30]],
        detection_score=0.99,
        emotion="happy",
        confidence=0.7,
        valence=0.5,
        arousal=0.3,
        model_version="test@0",
        **probs,
    )
    fields.update(kwargs)
    return EmotionReading.objects.create(**fields)


def make_checkin(session: TherapySession, phase: str = "before") -> MoodCheckIn:
    return MoodCheckIn.objects.create(
        patient=session.patient,
        session=session,
        phase=phase,
        valence=0.1,
        arousal=-0.2,
        word="tired",
    )


def assert_documented(serializer_class: Any, payload: dict[str, Any]) -> None:
    """The payload is what its documented serializer (in the OpenAPI schema) says, key for
    key: it validates, and it has exactly the documented top-level keys."""
    form = serializer_class(data=payload)
    assert form.is_valid(), form.errors
    documented = set(serializer_class().fields)
    assert set(payload) == documented, set(payload) ^ documented
