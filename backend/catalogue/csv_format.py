"""Reading and validating track CSVs in the common Spotify-features layouts.

Accepted layouts include the TidyTuesday spotify_songs file (track_id, track_name, ...,
playlist_genre, duration_ms, mode) and the data_moods file (id, name, artist, album, length,
no mode). Column names are matched through aliases; unknown columns are ignored. Every row is
validated (types and ranges) and either becomes a clean dict or a rejection with its line
number and reasons. No database access here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from backend.catalogue.models import DURATION_RANGE_MS, FEATURE_RANGES, KEY_RANGE
from backend.common.errors import ApplicationError

# canonical field -> accepted column names (first present wins)
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("track_id", "id", "external_id", "spotify_id"),
    "title": ("track_name", "name", "title"),
    "artist": ("track_artist", "artist", "artists", "artist_name"),
    "album": ("track_album_name", "album", "album_name"),
    "genre": ("playlist_genre", "genre"),
    "subgenre": ("playlist_subgenre", "subgenre"),
    "duration_ms": ("duration_ms", "length", "duration"),
    "popularity": ("track_popularity", "popularity"),
    "release_date": ("track_album_release_date", "release_date", "release_year"),
    "external_url": ("external_url", "link", "url"),
    "mode": ("mode",),
    "key": ("key",),
    **{name: (name,) for name in FEATURE_RANGES},
}
REQUIRED: tuple[str, ...] = ("external_id", "duration_ms", "key", *FEATURE_RANGES)
TEXT_LIMITS = {"title": 500, "artist": 500, "album": 500, "genre": 64, "subgenre": 64}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SPOTIFY_ID = re.compile(r"^[A-Za-z0-9]{22}$")
MAX_REJECTIONS_KEPT = 1000
# R's write.csv marks missing text as NA (the spotify_songs file has 5 such rows).
MISSING_TEXT = {"NA", "N/A", "NULL", "NaN"}


@dataclass
class ParsedFile:
    rows: list[dict[str, Any]] = field(default_factory=list)  # clean, in file order
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0
    total: int = 0
    columns: set[str] = field(default_factory=set)  # canonical names present in the header

    def reject(self, line: int, reasons: list[str]) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTIONS_KEPT:
            self.rejected.append({"line": line, "reasons": reasons})


def open_text(stream: IO[bytes]) -> IO[str]:
    """Text view of an uploaded CSV, gunzipped when it starts with the gzip magic bytes."""
    head = stream.read(2)
    stream.seek(0)
    raw: IO[bytes] = gzip.GzipFile(fileobj=stream) if head == b"\x1f\x8b" else stream  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _columns(header: list[str]) -> dict[str, int]:
    lowered = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for canonical, names in ALIASES.items():
        for name in names:
            if name in lowered:
                found[canonical] = lowered.index(name)
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ApplicationError(
            "the CSV lacks required columns: " + ", ".join(missing),
            code="bad_columns",
            details={"missing": missing, "accepted_names": {c: ALIASES[c] for c in missing}},
        )
    return found


def _number(raw: str, name: str, reasons: list[str]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        reasons.append(f"{name}: {raw[:40]!r} is not a number")
        return None
    if not math.isfinite(value):
        reasons.append(f"{name}: {raw[:40]!r} is not a finite number")
        return None
    return value


def _integer(raw: str, name: str, low: int, high: int, reasons: list[str]) -> int | None:
    value = _number(raw, name, reasons)
    if value is None:
        return None
    if value != int(value):
        reasons.append(f"{name}: {raw[:40]!r} is not a whole number")
        return None
    if not low <= value <= high:
        reasons.append(f"{name}: {int(value)} is outside [{low}, {high}]")
        return None
    return int(value)


def clean_row(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(clean fields, reasons); the row is valid when reasons is empty."""
    reasons: list[str] = []
    out: dict[str, Any] = {}
    external_id = values.get("external_id", "").strip()
    if not ID_PATTERN.match(external_id):
        reasons.append(f"external_id: {external_id[:40]!r} is empty or not an id")
    out["external_id"] = external_id
    for name, (low, high) in FEATURE_RANGES.items():
        value = _number(values[name].strip(), name, reasons)
        if value is not None and not low <= value <= high:
            reasons.append(f"{name}: {value} is outside [{low}, {high}]")
        out[name] = value
    out["key"] = _integer(values["key"].strip(), "key", *KEY_RANGE, reasons)
    out["duration_ms"] = _integer(
        values["duration_ms"].strip(), "duration_ms", *DURATION_RANGE_MS, reasons
    )
    mode = values.get("mode", "").strip()
    out["mode"] = _integer(mode, "mode", 0, 1, reasons) if mode else None
    popularity = values.get("popularity", "").strip()
    out["popularity"] = _integer(popularity, "popularity", 0, 100, reasons) if popularity else None
    year = values.get("release_date", "").strip()[:4]
    out["release_year"] = int(year) if year.isdigit() and 1000 < int(year) < 3000 else None
    for name, limit in TEXT_LIMITS.items():
        text = values.get(name, "").strip()
        text = "" if text in MISSING_TEXT else text
        if len(text) > limit:
            reasons.append(f"{name}: longer than {limit} characters")
        out[name] = text[:limit]
    url = values.get("external_url", "").strip()
    if url and not url.startswith(("https://", "http://")):
        reasons.append(f"external_url: {url[:40]!r} is not an http(s) URL")
    if not url and SPOTIFY_ID.match(external_id):
        url = f"https://open.spotify.com/track/{external_id}"
    out["external_url"] = url[:300]
    return out, reasons


def iter_rows(
    text: IO[str], present: set[str] | None = None
) -> Iterator[tuple[int, dict[str, str] | None, str]]:
    """(line number, values by canonical name or None, problem) for every data row; the
    canonical names found in the header are added to `present`."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ApplicationError("the CSV is empty (no header row)", code="empty_file") from None
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        raise ApplicationError(f"not a readable CSV: {exc}", code="unreadable") from None
    columns = _columns(header)
    if present is not None:
        present.update(columns)
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
            raise ApplicationError(
                f"not a readable CSV after line {reader.line_num}: {exc}", code="unreadable"
            ) from None
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != width:
            yield line, None, f"has {len(row)} fields, the header has {width}"
            continue
        yield line, {name: row[i] for name, i in columns.items()}, ""


def parse(text: IO[str], *, max_rows: int) -> ParsedFile:
    parsed = ParsedFile()
    for line, values, problem in iter_rows(text, parsed.columns):
        parsed.total += 1
        if parsed.total > max_rows:
            raise ApplicationError(f"the CSV has more than {max_rows} rows", code="too_many_rows")
        if values is None:
            parsed.reject(line, [problem])
            continue
        clean, reasons = clean_row(values)
        if reasons:
            parsed.reject(line, reasons)
        else:
            clean["line"] = line
            parsed.rows.append(clean)
    if parsed.total == 0:
        raise ApplicationError("the CSV has a header but no rows", code="empty_file")
    return parsed


def decode_check(stream: IO[bytes]) -> None:
    """Fail early and clearly on binary uploads that are neither CSV nor gzip."""
    head = stream.read(4096)
    stream.seek(0)
    if head[:2] == b"\x1f\x8b":
        return
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise ApplicationError("the file is not UTF-8 text or gzip", code="unreadable") from None
