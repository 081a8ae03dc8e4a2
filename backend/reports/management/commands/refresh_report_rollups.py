"""Store rollups for every settled session now, instead of on each patient's next report.

Reports fill rollups lazily, so this is never required; it moves the one-off cost (seconds for
a patient with a million readings) out of a request, e.g. after importing history.
"""

from typing import Any

from django.core.management.base import BaseCommand

from backend.accounts.models import Role, User
from backend.reports import services


class Command(BaseCommand):
    help = "Store report rollups for all settled sessions (optionally --patient ID ...)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patient", type=int, nargs="*", help="patient ids (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["patient"] or list(
            User.objects.filter(role=Role.PATIENT).values_list("pk", flat=True)
        )
        stored = 0
        for i in range(0, len(ids), 50):
            stored += services.refresh_rollups(patient_ids=ids[i : i + 50])
        self.stdout.write(f"stored rollups for {stored} sessions of {len(ids)} patients")
