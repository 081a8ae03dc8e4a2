"""API tokens with a lifetime, and the sign-in request checks.

A token older than API_TOKEN_TTL_HOURS is refused (and deleted); signing in again issues a new
one. Tokens are also revoked on sign-out and on any password change (User.save).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from backend.accounts.models import User


def token_expired(token: Token) -> bool:
    return token.created < timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed("this token has expired: sign in again")
        return user, token


def fresh_token(user: User) -> Token:
    """The user's token, replaced by a new one when it has expired."""
    token, _ = Token.objects.get_or_create(user=user)
    if token_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def check_same_origin(request: Request) -> None:
    """Refuse a sign-in posted from another site (login CSRF). Browsers send Origin (and
    Sec-Fetch-Site) on every cross-site POST; API clients send neither and are unaffected. The
    login view also accepts JSON only, which a cross-site HTML form cannot send."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise exceptions.PermissionDenied("sign-in from another site is refused")
    origin = request.headers.get("Origin")
    if origin is None:
        return
    trusted = {request.get_host(), *settings.ALLOWED_HOSTS}
    trusted_origins = set(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    if origin in trusted_origins:
        return
    if origin == "null" or not url_has_allowed_host_and_scheme(
        origin + "/", allowed_hosts=trusted, require_https=request.is_secure()
    ):
        raise exceptions.PermissionDenied("sign-in from another site is refused")
