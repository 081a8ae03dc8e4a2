"""Create the demo accounts (idempotent) and print their credentials.

Used by `make run` on a fresh machine; never run it against a production database.
"""

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts import services
from backend.accounts.models import Role, User

DEMO_ACCOUNTS = [
    ("admin", "demo-admin-pass", Role.ADMIN),
    ("therapist", "demo-therapist-pass", Role.THERAPIST),
    ("patient", "demo-patient-pass", Role.PATIENT),
    ("patient2", "demo-patient2-pass", Role.PATIENT),
]


class Command(BaseCommand):
    help = "Create demo admin, therapist and two patients (assigned to the therapist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tracks",
            action="store_true",
            help="also import the shared song catalogues if the catalogue is empty",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("refusing to create demo accounts in production")
        users = {}
        for username, password, role in DEMO_ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = services.create_user(username=username, password=password, role=role)
            users[username] = user
        for patient in ("patient", "patient2"):
            services.assign(therapist=users["therapist"], patient=users[patient])
        services.grant_consent(patient=users["patient"])
        self.stdout.write("Demo accounts (username / password / role):")
        for username, password, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<10} {password:<22} {role}")
        if options["tracks"]:
            self._import_tracks()

    def _import_tracks(self) -> None:
        from backend.catalogue.models import Track

        if Track.objects.exists():
            return
        songs = Path(os.environ.get("SONGS_DIR", settings.BASE_DIR.parent / "shared/data/songs"))
        files = [songs / n for n in ("spotify_songs.csv.gz", "data_moods.csv.gz")]
        present = [str(f) for f in files if f.is_file()]
        if not present:
            self.stdout.write(f"No song catalogue found under {songs}: the catalogue is empty")
            return
        self.stdout.write("Importing the demo song catalogue (about 10 s)...")
        with open(os.devnull, "w") as quiet:
            call_command("import_tracks", *present, show_rejected=0, stdout=quiet)
        self.stdout.write(f"Catalogue: {Track.objects.count()} tracks")
