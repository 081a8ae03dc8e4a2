"""Page views: each renders a template shell whose JS modules fetch data from /api/.

Access control is repeated here on the server (not only in the API) so that a page for
someone else's data is refused outright (403) instead of rendering an empty shell. Every page
sets the CSRF cookie because its scripts send X-CSRFToken on every write.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from backend.accounts.models import Role, User
from backend.therapy.models import Goal, TherapySession
from backend.therapy.selectors import can_view_patient

LANDING = {Role.PATIENT: "session", Role.THERAPIST: "caseload", Role.ADMIN: "catalogue"}

View = Callable[..., HttpResponse]


def page(*roles: str) -> Callable[[View], View]:
    """A signed-in page for the given roles (any role when none given), with a CSRF cookie."""

    def decorate(view: View) -> View:
        @wraps(view)
        @ensure_csrf_cookie
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if roles and request.user.role not in roles:
                raise PermissionDenied(f"This page is for {' or '.join(roles)} accounts.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    context.setdefault("notice_version", settings.CONSENT_NOTICE_VERSION)
    return render(request, f"frontend/{template}", context)


@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    """Role-based landing: each role starts on the page it uses most."""
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect(LANDING.get(request.user.role, "login"))


@ensure_csrf_cookie
def login_page(request: HttpRequest) -> HttpResponse:
    # only a path on this site survives (not "//evil.com", "/\\evil.com", "https://evil.com")
    wanted = request.GET.get("next", "/")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return _render(request, "login.html", next=wanted if safe and wanted.startswith("/") else "/")


@ensure_csrf_cookie
def invite_page(request: HttpRequest) -> HttpResponse:
    """Where an invited patient creates their account. The token is in the link's fragment,
    read by the page's script: it never reaches the server in a URL (or an access log)."""
    return render(request, "frontend/invite.html")


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


@page(Role.PATIENT)
def session_page(request: HttpRequest) -> HttpResponse:
    return _render(
        request, "session.html", goals=Goal.choices, frame_retention=settings.FRAME_RETENTION
    )


@page(Role.PATIENT)
def history_page(request: HttpRequest) -> HttpResponse:
    return _render(request, "patient.html", subject=request.user, own=True)


@page(Role.THERAPIST)
def caseload_page(request: HttpRequest) -> HttpResponse:
    return _render(request, "caseload.html")


@page(Role.PATIENT, Role.THERAPIST)
def patient_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    # someone else's patient and no patient at all get the same 404: no hint that the id exists
    if not can_view_patient(request.user, patient_id):
        raise Http404("No such patient.")
    subject = get_object_or_404(User, pk=patient_id, role=Role.PATIENT)
    return _render(request, "patient.html", subject=subject, own=request.user.pk == patient_id)


@page(Role.PATIENT, Role.THERAPIST)
def session_detail_page(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_object_or_404(TherapySession.objects.select_related("patient"), pk=session_id)
    if not can_view_patient(request.user, session.patient_id):
        raise Http404("No such session.")  # the same answer as a missing one
    return _render(request, "session_detail.html", therapy_session=session)


@page(Role.ADMIN)
def catalogue_page(request: HttpRequest) -> HttpResponse:
    return _render(request, "catalogue.html")


@page()
def account_page(request: HttpRequest) -> HttpResponse:
    """Your own account: time zone (reports bucket days in it) and password."""
    return _render(request, "account.html")


@page(Role.ADMIN)
def accounts_page(request: HttpRequest) -> HttpResponse:
    return _render(request, "accounts.html", roles=Role.choices)
