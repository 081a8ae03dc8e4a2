"""Validation of uploaded frames: the only door through which image bytes enter the system.

Order matters: cheap checks first (size, magic bytes, header dimensions) so that a hostile
file is refused before anything expensive (full decode) happens, and nothing is written
anywhere until every check has passed.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from rest_framework import status

from backend.common.errors import ApplicationError

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image

# Magic numbers of the formats we accept, and the Pillow format name each must decode as.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"WEBP", 8, "WEBP"),  # RIFF....WEBP
)


@dataclass(frozen=True)
class CleanImage:
    """A verified image re-encoded as JPEG with orientation applied and metadata stripped."""

    jpeg: bytes
    width: int
    height: int
    content_hash: str  # sha256 of the bytes the client sent


def _reject(message: str, code: str = "invalid_image", http: int = 400) -> ApplicationError:
    return ApplicationError(message, code=code, status_code=http)


def sniff_format(head: bytes) -> str | None:
    for signature, offset, name in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if name == "WEBP" and head[:4] != b"RIFF":
                continue
            return name
    return None


def read_upload(upload: UploadedFile | None) -> bytes:
    if upload is None:
        raise _reject("attach the image as multipart field 'image'", code="missing_image")
    limit = settings.FRAME_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise _reject(
            f"image is {upload.size} bytes; the limit is {limit} bytes",
            code="too_large",
            http=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _reject(
            f"image exceeds the limit of {limit} bytes",
            code="too_large",
            http=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if not data:
        raise _reject("the image file is empty", code="empty_image")
    return data


def validate_image(data: bytes) -> CleanImage:
    kind = sniff_format(data[:16])
    if kind is None:
        raise _reject(
            "unsupported file type: send a JPEG, PNG or WebP image",
            code="unsupported_type",
            http=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size  # from the header, before any pixel is decoded
            _check_dimensions(width, height)
            image.load()  # full decode: truncated or corrupt data fails here
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except ApplicationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject("image has too many pixels", code="too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _reject(
            f"the {kind} image is corrupt or truncated ({exc})", code="corrupt_image"
        ) from None
    out = io.BytesIO()
    # Pillow writes back what `info` carries (JPEG comments, ICC profile, ...): empty it, so the
    # re-encoded file holds pixels only (no EXIF/GPS, no COM segment, no profile).
    rgb.info = {}
    rgb.save(out, format="JPEG", quality=92)
    return CleanImage(
        jpeg=out.getvalue(),
        width=rgb.width,
        height=rgb.height,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def _check_dimensions(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise _reject(f"image has no pixels ({width}x{height})", code="empty_image")
    if width < 16 or height < 16:
        raise _reject(
            f"image is too small ({width}x{height}); at least 16x16 is needed", code="too_small"
        )
    if max(width, height) > settings.FRAME_MAX_SIDE or width * height > settings.FRAME_MAX_PIXELS:
        raise _reject(
            f"image is too large ({width}x{height}); at most {settings.FRAME_MAX_SIDE} px per "
            f"side and {settings.FRAME_MAX_PIXELS} pixels",
            code="too_many_pixels",
        )
