"""Shared reads of the catalogue: who sees which tracks, search and filters, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping

from django.db.models import Q, QuerySet

from backend.accounts.models import User
from backend.catalogue.models import Track

# Export columns use the names the importer reads first, so an export re-imports as is.
EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("track_id", "external_id"),
    ("track_name", "title"),
    ("track_artist", "artist"),
    ("track_album_name", "album"),
    ("playlist_genre", "genre"),
    ("playlist_subgenre", "subgenre"),
    ("duration_ms", "duration_ms"),
    ("track_popularity", "popularity"),
    ("release_year", "release_year"),
    ("external_url", "external_url"),
    *[
        (name, name)
        for name in (
            "danceability",
            "energy",
            "key",
            "loudness",
            "mode",
            "speechiness",
            "acousticness",
            "instrumentalness",
            "liveness",
            "valence",
            "tempo",
        )
    ],
    ("is_active", "is_active"),
    ("mood_valence", "mood_valence"),
    ("mood_arousal", "mood_arousal"),
    ("mood_region", "mood_region"),
]


def visible_tracks(user: User) -> QuerySet[Track]:
    """Admins see every track (active or not); everyone else only active ones."""
    if user.is_authenticated and user.is_admin:
        return Track.objects.all()
    return Track.objects.filter(is_active=True)


def search_tracks(tracks: QuerySet[Track], params: Mapping[str, str]) -> QuerySet[Track]:
    """?q= (title, artist, album), genre, subgenre, mood_region, active (admins)."""
    if q := params.get("q", "").strip():
        tracks = tracks.filter(
            Q(title__icontains=q) | Q(artist__icontains=q) | Q(album__icontains=q)
        )
    for name in ("genre", "subgenre", "mood_region"):
        if value := params.get(name, "").strip():
            tracks = tracks.filter(**{name: value})
    if (active := params.get("active")) in ("1", "true", "0", "false"):
        tracks = tracks.filter(is_active=active in ("1", "true"))
    return tracks


def export_rows(tracks: QuerySet[Track]) -> Iterator[str]:
    """CSV text, header first, streamed chunk by chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column for column, _ in EXPORT_COLUMNS])
    fields = [field for _, field in EXPORT_COLUMNS]
    for i, row in enumerate(tracks.order_by("id").values_list(*fields).iterator(2000)):
        writer.writerow(["" if value is None else value for value in row])
        if i % 1000 == 999:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
