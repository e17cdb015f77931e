from django.contrib import admin, messages

from . import audit
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is evidence. Nobody adds, edits or deletes events through the admin."""

    list_display = ["seq", "created_at", "action", "actor_id", "subject_type", "subject_id"]
    list_filter = ["action", "subject_type"]
    search_fields = ["action", "subject_id", "=actor_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = ["verify_chain"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Verify chain (the whole log, whatever is selected)", permissions=["view"])
    def verify_chain(self, request, queryset):
        checked, broken = audit.verify()
        if broken is None:
            self.message_user(request, f"Chain intact: {checked} events.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"Chain broken after {checked} intact events: event {broken.seq} {broken.reason}.",
                messages.ERROR,
            )
        audit.record(
            "audit.chain_verified",
            actor=request.user,
            data={"checked": checked, "intact": broken is None, "broken_seq": broken.seq if broken else None},
        )
