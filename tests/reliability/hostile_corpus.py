"""A corpus of hostile and odd image uploads, each with the outcome the API must give.

"accept": a real image in a strange form: 202, one Frame row, one stored file that is a clean
RGB JPEG without any of the hostile payload's bytes. (status, code): refused with that clear
4xx and nothing left behind. Built in memory with Pillow and byte surgery (no files in git).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable

from PIL import Image, PngImagePlugin

Expect = str | tuple[int, str]
ACCEPT = "accept"
MARKER = b"HOSTILE-PAYLOAD-7f3a"  # must never survive into a stored frame


def _rgb(size: tuple[int, int] = (96, 72)) -> Image.Image:
    image = Image.new("RGB", size, (30, 90, 150))
    for x in range(0, size[0], 8):  # some structure, so encoders emit real data
        for y in range(size[1]):
            image.putpixel((x, y), (200, 40, (x * 7) % 255))
    return image


def _save(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def jpeg_zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shell.php", b"<?php system($_GET['c']); ?>" + MARKER)
    return _save(_rgb(), "JPEG") + archive.getvalue()


def png_html_polyglot() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(document.cookie)</script>" + MARKER.decode())
    return _save(_rgb(), "PNG", pnginfo=info) + b"<html><script>alert(1)</script></html>"


def cmyk_jpeg() -> bytes:
    return _save(_rgb().convert("CMYK"), "JPEG")


def png_16bit() -> bytes:
    image = Image.new("I;16", (64, 48))
    image.putdata([i * 37 % 65535 for i in range(64 * 48)])
    return _save(image, "PNG")


def animated_webp() -> bytes:
    frames = [_rgb(), Image.new("RGB", (96, 72), (250, 0, 0)), Image.new("RGB", (96, 72))]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def huge_exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Evil" + MARKER.decode()  # camera make
    exif[0x9286] = "A" * 60_000  # UserComment: close to the 64 KB APP1 limit
    exif[0x0112] = 1
    return _save(_rgb(), "JPEG", exif=exif.tobytes())


def exif_bogus_orientation() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 9  # no such orientation
    return _save(_rgb(), "JPEG", exif=exif.tobytes())


def progressive_jpeg() -> bytes:
    return _save(_rgb((320, 240)), "JPEG", progressive=True, quality=90)


def progressive_jpeg_truncated() -> bytes:
    data = progressive_jpeg()
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + crc


def png_ztxt_bomb() -> bytes:
    """A compressed text chunk that inflates to 100 MB (Pillow caps text chunks)."""
    png = _save(_rgb(), "PNG")
    bomb = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\0" * 100_000_000, 9))
    return png[:33] + bomb + png[33:]


def png_bad_crc() -> bytes:
    png = bytearray(_save(_rgb(), "PNG"))
    idat = png.find(b"IDAT")
    length = struct.unpack(">I", png[idat - 4 : idat])[0]
    png[idat + 4 + length] ^= 0xFF  # first CRC byte of the IDAT chunk
    return bytes(png)


def webp_lying_riff_size() -> bytes:
    data = bytearray(_save(_rgb(), "WEBP"))
    struct.pack_into("<I", data, 4, 0x7FFFFFF0)
    return bytes(data[: len(data) - 20])


def too_wide_png() -> bytes:
    return _save(Image.new("L", (9000, 32)), "PNG")


def one_pixel_jpeg() -> bytes:
    return _save(Image.new("RGB", (1, 1), (1, 2, 3)), "JPEG")


def palette_png_with_transparency() -> bytes:
    return _save(_rgb().convert("P"), "PNG", transparency=0)


def grey_alpha_png() -> bytes:
    return _save(_rgb().convert("LA"), "PNG")


def svg_script() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def tiff() -> bytes:
    return _save(_rgb(), "TIFF")


def bmp() -> bytes:
    return _save(_rgb(), "BMP")


def heic_signature() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64


def jpeg_header_then_garbage() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


def riff_not_webp() -> bytes:
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 64


CORPUS: dict[str, tuple[Callable[[], bytes], Expect]] = {
    "jpeg_zip_polyglot": (jpeg_zip_polyglot, ACCEPT),
    "png_html_polyglot": (png_html_polyglot, ACCEPT),
    "cmyk_jpeg": (cmyk_jpeg, ACCEPT),
    "png_16bit": (png_16bit, ACCEPT),
    "animated_webp": (animated_webp, ACCEPT),
    "huge_exif_jpeg": (huge_exif_jpeg, ACCEPT),
    "exif_bogus_orientation": (exif_bogus_orientation, ACCEPT),
    "progressive_jpeg": (progressive_jpeg, ACCEPT),
    "progressive_jpeg_truncated": (progressive_jpeg_truncated, (400, "corrupt_image")),
    "png_ztxt_bomb": (png_ztxt_bomb, (400, "corrupt_image")),
    # the pixels still decode; re-encoding drops whatever the chunk carried
    "png_bad_crc": (png_bad_crc, ACCEPT),
    "webp_lying_riff_size": (webp_lying_riff_size, (400, "corrupt_image")),
    "too_wide_png": (too_wide_png, (400, "too_many_pixels")),
    "one_pixel_jpeg": (one_pixel_jpeg, (400, "too_small")),
    "palette_png_with_transparency": (palette_png_with_transparency, ACCEPT),
    "grey_alpha_png": (grey_alpha_png, ACCEPT),
    "svg_script": (svg_script, (415, "unsupported_type")),
    "tiff": (tiff, (415, "unsupported_type")),
    "bmp": (bmp, (415, "unsupported_type")),
    "heic_signature": (heic_signature, (415, "unsupported_type")),
    "jpeg_header_then_garbage": (jpeg_header_then_garbage, (400, "corrupt_image")),
    "riff_not_webp": (riff_not_webp, (415, "unsupported_type")),
}
