"""manage.py benchmark_recommender: playlist latency over the active catalogue, as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.catalogue.models import Track
from backend.recommendations import benchmark


class Command(BaseCommand):
    help = "Time 20-track playlists over the active catalogue (prints one JSON line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=200)
        parser.add_argument("--length", type=int, default=20)
        parser.add_argument(
            "--import",
            dest="do_import",
            action="store_true",
            help="import spotify_songs.csv.gz (SONGS_DIR) first if the catalogue is empty",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["do_import"] and not Track.objects.filter(is_active=True).exists():
            benchmark.ensure_catalogue()
        result = benchmark.run(runs=options["runs"], length=options["length"])
        self.stdout.write(json.dumps(result))
