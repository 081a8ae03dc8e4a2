"""Brute-force protection for the login endpoint, on top of LoginThrottle's 30/min per IP.

Failed logins are counted in the database (shared by every web process and host) over a sliding
window. Three limits, because each stops a different attack:
  - one username from one address: the plain password guesser (LOGIN_LOCKOUT_FAILURES);
  - one address over all usernames: password spraying (4x that);
  - one username over all addresses: a distributed guesser (10x that).
A locked request is refused before the password is even checked, so a guesser learns nothing
during the lockout, and the answer (429 + Retry-After) is the same whether the account exists.
The per-username limits can only delay a real user, never reveal or change the password, and a
successful login clears that username's failures.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from backend.accounts.models import LoginFailure


class LockedOut(Throttled):
    """A 429 with Retry-After (DRF sets the header from `wait`)."""

    default_code = "locked_out"


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def _limits(username: str, ip: str | None) -> list[tuple[dict[str, object], int]]:
    per_pair = settings.LOGIN_LOCKOUT_FAILURES
    limits: list[tuple[dict[str, object], int]] = [({"username": username}, per_pair * 10)]
    if ip:
        limits += [({"username": username, "ip": ip}, per_pair), ({"ip": ip}, per_pair * 4)]
    return limits


def client_ip(request: Request) -> str | None:
    """The client address, honouring REST_FRAMEWORK["NUM_PROXIES"] behind the proxy."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address((ident or "").strip()))
    except ValueError:
        return None  # a garbled forwarded header: the per-username limit still applies


def check_not_locked(*, username: str, ip: str | None) -> None:
    """Raise LockedOut (429) while any limit is reached."""
    username = username.strip().lower()
    since = timezone.now() - _window()
    for filters, limit in _limits(username, ip):
        recent = LoginFailure.objects.filter(at__gt=since, **filters)
        if recent.count() >= limit:
            oldest = recent.order_by("-at").values_list("at", flat=True)[limit - 1]
            retry_after = max(1, math.ceil((oldest + _window() - timezone.now()).total_seconds()))
            raise LockedOut(
                wait=retry_after,
                detail="too many failed logins: try again in "
                f"{math.ceil(retry_after / 60)} minute(s)",
            )


def record_failure(*, username: str, ip: str | None) -> None:
    purge_expired()
    LoginFailure.objects.create(username=username.strip().lower()[:150], ip=ip or None)


def record_success(*, username: str) -> None:
    LoginFailure.objects.filter(username=username.strip().lower()).delete()


def purge_expired() -> int:
    """Drop failures older than the window (on each new failure: the table stays small)."""
    deleted, _ = LoginFailure.objects.filter(at__lte=timezone.now() - _window()).delete()
    return deleted
