"""Validation of uploaded frames: the only door through which image bytes enter the system.

Order matters: cheap checks first (size, magic bytes, header dimensions) so that a hostile
file is refused before anything expensive (decoding) happens, and nothing is written anywhere
until every check has passed.

What is stored holds pixels only: no EXIF/GPS, comments, profiles or trailing bytes. Browser
frames (an upright YCbCr JPEG) take the cheap way there: their segments are copied without the
metadata ones and the copy is decoded at 1/8 scale, which still reads every entropy-coded byte,
so a truncated or broken stream fails as it would at full size. That costs a fraction of a full
decode and re-encode (`python -m bench.upload_cost --json`), and the worker decodes the frame at
full size anyway. Every other image (PNG, WebP, CMYK or RGB-coded JPEG, an EXIF rotation,
arithmetic coding, anything the segment walk does not recognise) is decoded in full, rotated
upright and re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import re
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
    """A verified image as a metadata-free JPEG, upright (`jpeg`: what gets stored)."""

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
    content_hash = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size  # from the header, before any pixel is decoded
            _check_dimensions(width, height)
            if kind == "JPEG" and (stripped := _pixels_only_jpeg(data, image)) is not None:
                _check_decodes(stripped, width, height)
                return CleanImage(stripped, width, height, content_hash)
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
    return CleanImage(out.getvalue(), rgb.width, rgb.height, content_hash)


# A minimal JFIF header (version 1.01, no density, no thumbnail): it tells decoders the three
# components are YCbCr, as the original's JFIF segment (dropped with the other APPn) did.
_JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_KEPT = frozenset({0xDB, 0xC4, 0xDD})  # quantisation tables, Huffman tables, restart interval
_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive
_METADATA = frozenset({*range(0xE0, 0xF0), 0xFE})  # APP0-APP15, comments
# the next marker after entropy-coded data: 0xFF then neither a stuffed 0x00, a restart
# marker (inside the data) nor another 0xFF (a fill byte)
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_UPRIGHT = (None, 1)


def _pixels_only_jpeg(data: bytes, image: Image.Image) -> bytes | None:
    """The JPEG's pixel segments (tables, frame, scans) with a minimal JFIF header, or None
    where the cheap way does not apply: not a three-component Huffman-coded YCbCr JPEG
    (an Adobe segment, components named R, G, B), an EXIF rotation to apply, or a layout
    this walk does not recognise (left to the full decode, which names what is wrong)."""
    if image.mode != "RGB" or "adobe" in image.info:
        return None
    if image.getexif().get(0x0112) not in _UPRIGHT:
        return None
    out = [b"\xff\xd8", _JFIF]
    at, end, frame_seen = 2, len(data), False
    while at + 2 <= end:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:  # end of image: what follows (a zip, a script) is dropped
            out.append(b"\xff\xd9")
            return b"".join(out) if frame_seen else None
        length = int.from_bytes(data[at + 2 : at + 4])
        segment_end = at + 2 + length
        if length < 2 or segment_end > end:
            return None
        if marker in _HUFFMAN_FRAMES:
            components = data[at + 9] if at + 9 < end else 0
            ids = data[at + 10 : at + 10 + 3 * components : 3]
            if components != 3 or ids == b"RGB" or frame_seen:
                return None
            frame_seen = True
        elif marker == 0xDA and frame_seen:  # a scan: its header, then entropy-coded data
            found = _NEXT_MARKER.search(data, segment_end)
            if found is None:
                return None  # no end: truncated
            out.append(data[at : found.start()])
            at = found.start()
            continue
        elif marker not in _KEPT and marker not in _METADATA:
            return None
        if marker not in _METADATA:
            out.append(data[at:segment_end])
        at = segment_end
    return None


def _check_decodes(jpeg: bytes, width: int, height: int) -> None:
    """Decode at 1/8 scale (libjpeg's DCT scaling): every entropy-coded byte is still read,
    so a truncated or corrupt stream raises here as it would at full size."""
    image = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    image.load()


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
