"""The audit trail in Django's admin: readable by admins, never editable or deletable there."""

from typing import Any

from django.contrib import admin

from backend.common.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "patient_username", "path")
    list_filter = ("action",)
    search_fields = ("actor_username", "patient_username")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    # The admin role (not Django's per-model permissions) is what grants access here.
    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return bool(request.user.is_active and getattr(request.user, "is_admin", False))

    def has_module_permission(self, request: Any) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
