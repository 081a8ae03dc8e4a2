"""Hostile and malformed uploads (tests/reliability/hostile_corpus.py) and request payloads:
each gets a clear answer, never a 500, and leaves nothing half-written; a full disk gives a
clear 507 and no row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backend.therapy.models import Frame
from tests.backend.conftest import image_bytes, make_session
from tests.reliability.hostile_corpus import ACCEPT, CORPUS, MARKER

pytestmark = pytest.mark.django_db


def _files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def _upload(client: Any, session_id: int, data: bytes, name: str = "f.jpg", **extra: Any) -> Any:
    return client.post(
        f"/api/sessions/{session_id}/frames",
        {"image": SimpleUploadedFile(name, data, "image/jpeg"), **extra},
        format="multipart",
    )


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_image_gets_a_clear_answer_and_leaves_nothing_half_written(
    name: str, patient: Any, client_for: Any, media_root: Path
) -> None:
    build, expect = CORPUS[name]
    session = make_session(patient)
    response = _upload(client_for(patient), session.pk, build())
    if expect == ACCEPT:
        assert response.status_code == 202, response.content[:300]
        frame = Frame.objects.get()
        stored = _files(media_root)
        assert [p.name for p in stored] == [Path(frame.image.name).name]
        data = stored[0].read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and MARKER not in data and b"<script" not in data
        with Image.open(stored[0]) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert image.size == (frame.width, frame.height)
            assert not image.getexif(), "metadata is stripped"
    else:
        status, code = expect
        assert response.status_code == status, response.content[:300]
        error = response.json()["error"]
        assert error["code"] == code and len(error["message"]) > 10
        assert Frame.objects.count() == 0
        assert _files(media_root) == []


def test_client_filename_never_chooses_the_storage_path(
    patient: Any, client_for: Any, media_root: Path
) -> None:
    session = make_session(patient)
    response = _upload(client_for(patient), session.pk, image_bytes(), name="../../../etc/passwd")
    assert response.status_code == 202
    (stored,) = _files(media_root)
    assert stored.resolve().is_relative_to(Path(media_root).resolve() / "frames" / str(session.pk))
    assert "passwd" not in stored.name


PAYLOADS: list[tuple[str, dict[str, Any], str, int]] = [
    ("json_instead_of_multipart", {"image": "AAAA"}, "json", 415),
    ("image_as_text_field", {"image": "not a file"}, "multipart", 400),
    ("captured_at_garbage", {"captured_at": "yesterday-ish"}, "multipart", 400),
    ("captured_at_huge_year", {"captured_at": "99999-01-01T00:00:00Z"}, "multipart", 400),
]


@pytest.mark.parametrize("label,body,fmt,status", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_malformed_upload_requests_are_clear_4xx(
    label: str, body: dict[str, Any], fmt: str, status: int, patient: Any, client_for: Any,
    media_root: Path,
) -> None:  # fmt: skip
    session = make_session(patient)
    if label.startswith("captured_at"):
        body = {**body, "image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")}
    response = client_for(patient).post(f"/api/sessions/{session.pk}/frames", body, format=fmt)
    assert response.status_code == status, response.content[:300]
    assert "error" in response.json()
    assert Frame.objects.count() == 0 and _files(media_root) == []


JSON_PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("/api/sessions", {"goal": "x" * 10_000}),
    ("/api/sessions", {"goal": ["calm"], "notes": {"$gt": ""}}),
    ("/api/checkins", {"phase": "before", "valence": "NaN", "arousal": 0}),
    ("/api/checkins", {"phase": "standalone", "valence": 1e308, "arousal": -1e308}),
    ("/api/checkins", {"phase": "standalone", "valence": 0, "arousal": 0, "word": "\x00"}),
    ("/api/auth/login", {"username": "pat\x00", "password": "x"}),
    ("/api/auth/login", {"username": ["a"], "password": {"b": 1}}),
    ("/api/me", {"time_zone": "Mars/Olympus_Mons"}),
]


@pytest.mark.parametrize("path,body", JSON_PAYLOADS)
def test_hostile_json_payloads_are_clear_4xx(
    path: str, body: dict[str, Any], patient: Any, client_for: Any
) -> None:
    client = client_for(patient)
    response = (client.patch if path == "/api/me" else client.post)(path, body, format="json")
    assert 400 <= response.status_code < 500, (path, response.status_code, response.content[:300])
    assert "error" in response.json()


def test_full_disk_gives_a_clear_507_and_leaves_no_row_and_no_partial_file(
    patient: Any, client_for: Any, media_root: Path, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.reliability.storage.FullDiskStorage",
            "OPTIONS": {"location": str(media_root)},
        },
    }
    session = make_session(patient)
    client = client_for(patient)
    client.raise_request_exception = False
    response = _upload(client, session.pk, image_bytes())
    assert response.status_code in (503, 507), response.status_code
    assert response.json()["error"]["code"] in ("storage_full", "storage_unavailable")
    assert Frame.objects.count() == 0
    assert _files(media_root) == [], "the partial file is removed"
