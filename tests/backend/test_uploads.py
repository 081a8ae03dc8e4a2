"""Frame upload validation: every hostile or broken file is refused with a clear 4xx JSON
error and leaves no file and no row behind; good images are stored normalised."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backend.therapy.models import Frame
from tests.backend.conftest import image_bytes, make_session


def _png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG signature + IHDR claiming the given size, one tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _png_bomb() -> bytes:
    """5000x5000 black pixels: ~25 MB decoded from a file of a few tens of KB."""
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header is patched to claim width x height."""
    data = bytearray(image_bytes("JPEG", (32, 32)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


BAD_UPLOADS = {
    "truncated_jpeg": (image_bytes("JPEG", (256, 256), quality=95)[:600], 400, "corrupt_image"),
    "png_bomb": (_png_bomb(), 400, "too_many_pixels"),
    "pdf_renamed_jpg": (
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        415,
        "unsupported_type",
    ),
    "zero_bytes": (b"", 400, "empty_image"),
    "header_30000x30000": (_jpeg_with_size(30000, 30000), 400, "too_many_pixels"),
    "png_header_30000x30000": (_png_header_only(30000, 30000), 400, "too_many_pixels"),
    "gif": (image_bytes("GIF", (32, 32)), 415, "unsupported_type"),
    "oversized": (b"\xff\xd8\xff\xe0" + b"\0" * (2 * 1024 * 1024 + 10), 413, "too_large"),
    "zero_dimension_png": (_png_header_only(0, 10), 400, "corrupt_image"),
    "html_script": (b"<script>alert(1)</script>", 415, "unsupported_type"),
}


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_bad_upload_is_rejected_and_leaves_nothing(name, patient, client_for, media_root):  # type: ignore[no-untyped-def]
    data, status, code = BAD_UPLOADS[name]
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile(f"{name}.jpg", data, "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10, "the message explains the problem"
    assert Frame.objects.count() == 0
    assert _files_under(media_root) == []


@pytest.mark.django_db
def test_missing_image_field_is_a_clear_400(patient, client_for):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames", {}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_image"


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_good_image_is_stored_as_jpeg_and_queued(fmt, patient, client_for, media_root):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f", image_bytes(fmt, (80, 60)), "application/octet-stream")},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    frame = Frame.objects.get(pk=body["id"])
    assert (frame.width, frame.height) == (80, 60)
    stored = _files_under(media_root)
    assert len(stored) == 1
    assert stored[0].read_bytes()[:3] == b"\xff\xd8\xff"


@pytest.mark.django_db
def test_exif_orientation_is_applied_and_metadata_dropped(patient, client_for, media_root):  # type: ignore[no-untyped-def]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    exif[0x010F] = "SecretCam"  # camera make: must not survive re-encoding
    data = image_bytes("JPEG", (80, 40), exif=exif.tobytes())
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", data, "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 202
    assert (response.json()["width"], response.json()["height"]) == (40, 80)
    stored = Image.open(_files_under(media_root)[0])
    assert stored.size == (40, 80)
    assert b"SecretCam" not in _files_under(media_root)[0].read_bytes()


def _noise_jpeg(**save: object) -> bytes:
    """160x120 pixels of noise: a JPEG with real entropy-coded data, as a camera sends."""
    pixels = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", **save)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "save",
    [{}, {"progressive": True}, {"restart_marker_blocks": 2}],
    ids=["baseline", "progressive", "restart_markers"],
)
def test_an_upright_jpeg_is_stored_pixel_for_pixel_without_its_metadata(  # type: ignore[no-untyped-def]
    save, patient, client_for, media_root
):
    exif = Image.Exif()
    exif[0x0112] = 1  # upright
    exif[0x010F] = "SecretCam"
    data = _noise_jpeg(
        exif=exif.tobytes(), comment=b"SecretComment", icc_profile=b"SecretProfile" * 8, **save
    )
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", data + b"SecretTrailer", "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    stored = _files_under(media_root)[0].read_bytes()
    for secret in (b"SecretCam", b"SecretComment", b"SecretProfile", b"SecretTrailer"):
        assert secret not in stored
    # not re-encoded: the stored file decodes to exactly the pixels the client sent
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(data)) as sent:
        assert not kept.getexif() and "icc_profile" not in kept.info
        assert np.array_equal(np.asarray(kept), np.asarray(sent))


@pytest.mark.django_db
def test_upload_needs_consent(patient, client_for, media_root):  # type: ignore[no-untyped-def]
    from backend.accounts import services

    services.withdraw_consent(patient=patient)
    session = make_session(patient)
    response = client_for(patient).post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "consent_required"
    assert Frame.objects.count() == 0
    assert _files_under(media_root) == []


@pytest.mark.django_db
def test_upload_to_ended_session_is_refused(patient, client_for, media_root):  # type: ignore[no-untyped-def]
    session = make_session(patient)
    client = client_for(patient)
    client.post(f"/api/sessions/{session.pk}/end")
    response = client.post(
        f"/api/sessions/{session.pk}/frames",
        {"image": SimpleUploadedFile("f.jpg", image_bytes(), "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 409
    assert _files_under(media_root) == []
