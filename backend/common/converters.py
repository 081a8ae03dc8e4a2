"""URL converters. `id`: a primary key, 1 to 18 digits, so an id past the 64-bit range is a
404 from URL resolution instead of an overflow inside the database driver."""

from __future__ import annotations


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
