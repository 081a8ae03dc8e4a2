from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.template.response import TemplateResponse

from backend.accounts import privacy
from backend.accounts.models import Assignment, ConsentRecord, Invitation, User
from backend.common.errors import ApplicationError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Role", {"fields": ("role", "time_zone")}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("Role", {"fields": ("role",)}))
    actions = ["export_patient_data", "erase_patients"]

    @admin.action(description="Export the selected patient's data (zip, audited)")
    def export_patient_data(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        if queryset.count() != 1:
            self.message_user(request, "select exactly one patient to export", messages.ERROR)
            return None
        patient = queryset.get()
        try:
            archive = privacy.export_patient_data(
                actor=request.user, patient=patient, path=request.path
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        return FileResponse(
            archive,
            as_attachment=True,
            filename=f"patient-{patient.pk}-export.zip",
            content_type="application/zip",
        )

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


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("therapist", "patient", "started_at", "ended_at")
    list_filter = ("ended_at",)
    search_fields = ("therapist__username", "patient__username")
    raw_id_fields = ("therapist", "patient")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "therapist", "created_at", "expires_at", "accepted_by")
    readonly_fields = ("token_hash",)


@admin.register(ConsentRecord)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("patient", "notice_version", "granted_at", "withdrawn_at")

    def has_change_permission(self, request, obj=None):
        return False  # consent history is evidence: never edited by hand
