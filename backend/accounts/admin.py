"""Accounts in Django's admin. The admin role manages accounts and care assignments here, but
nothing on these pages lets it reach mood data: no permission or superuser fields (roles decide
access, see User.has_perm), no API tokens, no patient data export (only the patient downloads
that), consent history read-only, and every write goes through accounts.services (the same
checks and audit rows as the API)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework.authtoken.models import TokenProxy

from backend.accounts import lockout, privacy, services
from backend.accounts.models import Assignment, ConsentRecord, Invitation, User
from backend.common.errors import ApplicationError

# API tokens are credentials: no page lists them, for any role.
admin.site.unregister(TokenProxy)


class LockoutAuthenticationForm(AuthenticationForm):
    """The admin sign-in with the same brute-force lockout as the API login."""

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username", "")
        ip = lockout.client_ip(self.request) if self.request is not None else None
        try:
            lockout.check_not_locked(username=username, ip=ip)
        except lockout.LockedOut as exc:
            raise ValidationError(str(exc.detail), code="locked_out") from exc
        try:
            cleaned = super().clean()
        except ValidationError:
            lockout.record_failure(username=username, ip=ip)
            raise
        lockout.record_success(username=username)
        return cleaned


admin.site.login_form = LockoutAuthenticationForm


class AdminUserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "role", "time_zone", "is_active")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        try:
            services.check_username_free(username, exclude=self.instance)
        except ApplicationError as exc:
            raise ValidationError(exc.message) from exc
        return username


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = AdminUserChangeForm
    list_display = ("username", "email", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active")
    # No is_superuser, is_staff, groups or user_permissions: roles decide what an account
    # reaches; superusers are made only with `manage.py createsuperuser`.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role", {"fields": ("role", "time_zone", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("Role", {"fields": ("role",)}))
    filter_horizontal = ()
    actions = ["erase_patients"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)  # the add form validates the password
            return
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = User.objects.get(pk=obj.pk)
        services.update_account(actor=request.user, user=fresh, **fields)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Opening an account's page shows personal data (name, e-mail): audited."""
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            user = User.objects.filter(pk=object_id).first() if object_id.isdigit() else None
            if user is not None:
                services.audit_admin_view(actor=request.user, user=user, path=request.path)
        return response

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's form validates the password; the change is audited and (in the model)
        revokes the user's API tokens."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User.objects.get(pk=id)
            services.audit_password_set(actor=request.user, user=user)
        return response

    @admin.action(description="Erase the selected patients and all their data (audited)")
    def erase_patients(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        """First call shows a confirmation page; erasure needs each username typed again."""
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/accounts/erase_confirmation.html",
                {**self.admin_site.each_context(request), "patients": queryset, "opts": self.opts},
            )
        erased = []
        for patient in queryset:
            try:
                privacy.erase_patient(
                    actor=request.user,
                    patient=patient,
                    confirm=request.POST.get(f"confirm_{patient.pk}", ""),
                    path=request.path,
                )
                erased.append(patient.username)
            except ApplicationError as exc:
                self.message_user(request, f"{patient.username}: {exc.message}", messages.ERROR)
        if erased:
            self.message_user(request, f"erased: {', '.join(erased)}", messages.SUCCESS)
        return None


class AssignmentForm(forms.ModelForm):
    class Meta:
        model = Assignment
        fields = ("therapist", "patient")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Assignments are started here (role-checked by Assignment.clean and services.assign) and
    ended with the action; never edited, never deleted (they are the history of who saw what)."""

    form = AssignmentForm
    list_display = ("therapist", "patient", "started_at", "ended_at")
    list_filter = ("ended_at",)
    search_fields = ("therapist__username", "patient__username")
    raw_id_fields = ("therapist", "patient")
    actions = ["end_assignments"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Assignment, form: Any, change: bool) -> None:
        created = services.assign(
            therapist=obj.therapist,
            patient=obj.patient,
            actor=request.user,
        )
        obj.pk = created.pk

    @admin.action(description="End the selected assignments")
    def end_assignments(self, request: HttpRequest, queryset: QuerySet[Assignment]) -> None:
        for assignment in queryset:
            services.end_assignment(assignment=assignment, actor=request.user)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "therapist", "created_at", "expires_at", "accepted_by")
    readonly_fields = ("token_hash",)


@admin.register(ConsentRecord)
class ConsentAdmin(admin.ModelAdmin):
    """Consent history is evidence: read-only, for everyone."""

    list_display = ("patient", "notice_version", "granted_at", "withdrawn_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
