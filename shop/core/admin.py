from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is evidence. Nobody adds, edits or deletes events through the admin."""

    list_display = ["seq", "created_at", "action", "actor_id", "subject_type", "subject_id"]
    list_filter = ["action", "subject_type"]
    search_fields = ["action", "subject_id", "=actor_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
