"""The compliance desk's read-only registers: consent records (with the proof-of-consent export),
retention runs and the page-view counts. Imported by shop/privacy/admin.py.

Nothing here is editable: consent records and retention runs are evidence. Every export is an
audit event; the file name of the download is set here, never taken from the request.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone

from shop.core import audit

from . import consent
from .models import ConsentRecord, PageView, RetentionRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def consent_proof(*, user_id: int | None = None, visitor_id: str = "") -> dict:
    """Every consent record of one subject (an account id or a visitor id), oldest first, with the
    text each record refers to when it is still the current version. Ids only, no personal data."""
    if user_id:
        records = ConsentRecord.objects.filter(user_id=user_id)
        subject = {"user_id": user_id}
    elif visitor_id:
        records = ConsentRecord.objects.filter(user=None, visitor_id=visitor_id)
        subject = {"visitor_id": visitor_id}
    else:
        raise ValueError("a subject is needed")
    purposes = {key: {"version": p.version, "title": p.title, "text": p.text} for key, p in consent.PURPOSES.items()}
    return {
        "subject": subject,
        "generated_at": timezone.now().isoformat(),
        "current_purpose_texts": purposes,
        "records": [
            {
                "id": record.pk,
                "purpose": record.purpose,
                "policy_version": record.policy_version,
                "granted": record.granted,
                "at": record.at.isoformat(),
                "source": record.source,
                "visitor_id": record.visitor_id,
            }
            for record in records.order_by("at", "id")
        ],
    }


def _proof_response(request, *, user_id: int | None = None, visitor_id: str = "") -> HttpResponse:
    if not user_id and not visitor_id:
        raise Http404("No such subject.")  # /export/0/: no account has the id 0
    proof = consent_proof(user_id=user_id, visitor_id=visitor_id)
    audit.record(
        "privacy.consent_proof_exported",
        actor=request.user,
        data={**proof["subject"], "records": len(proof["records"])},
    )
    tag = f"account-{user_id}" if user_id else "visitor"
    response = HttpResponse(
        json.dumps(proof, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="consent-proof-{tag}-{timezone.localdate():%Y-%m-%d}.json"'
    response["Cache-Control"] = "no-store"
    return response


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "subject", "purpose", "policy_version", "granted", "source", "at"]
    list_filter = ["purpose", "granted", "source", "policy_version"]
    search_fields = ["user__email", "=user__id", "=visitor_id"]
    search_help_text = "An account's e-mail address or id, or a visitor id."
    date_hierarchy = "at"
    list_select_related = False
    actions = ["export_proof"]
    readonly_fields = ["user_id", "visitor_id", "purpose", "policy_version", "granted", "at", "source"]
    fields = readonly_fields

    @admin.display(description="subject")
    def subject(self, obj):
        return f"account {obj.user_id}" if obj.user_id else f"visitor {obj.visitor_id}"

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            audit.record("privacy.consent_records_viewed", actor=request.user)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Export proof of consent (one subject)", permissions=["view"])
    def export_proof(self, request, queryset):
        subjects = {(record.user_id, "" if record.user_id else record.visitor_id) for record in queryset}
        if len(subjects) != 1:
            self.message_user(
                request, "Select records of exactly one subject (one account or one visitor).", messages.ERROR
            )
            return None
        ((user_id, visitor_id),) = subjects
        return _proof_response(request, user_id=user_id, visitor_id=visitor_id)

    def get_urls(self):
        return [
            path(
                "export/<int:user_id>/",
                self.admin_site.admin_view(self.export_user_view),
                name="privacy_consentrecord_export",
            ),
            *super().get_urls(),
        ]

    def export_user_view(self, request, user_id: int):
        """Proof of consent of one account, also when it has no record yet (an empty list is proof too)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return redirect(request.path)
        return _proof_response(request, user_id=user_id)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ["at", "policy", "rows_affected", "duration", "dry_run"]
    list_filter = ["policy", "dry_run"]
    date_hierarchy = "at"
    readonly_fields = ["policy", "rows_affected", "duration", "at", "dry_run"]
    fields = readonly_fields

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            audit.record("privacy.retention_runs_viewed", actor=request.user)
        return super().changelist_view(request, extra_context)


@admin.register(PageView)
class PageViewAdmin(ReadOnlyAdmin):
    list_display = ["day", "path", "count"]
    list_filter = ["day"]
    search_fields = ["path"]
    date_hierarchy = "day"
    readonly_fields = ["day", "path", "count"]
    fields = readonly_fields
