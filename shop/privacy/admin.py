"""The compliance desk in the admin (OTP-verified staff only: see shop/accounts/admin_site.py)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from shop.core import audit

from . import admin_compliance, services  # noqa: F401  (admin_compliance: consent records, retention runs, page views)
from .models import DataRequest, DataRequestEvent


class DataRequestEventInline(admin.TabularInline):
    model = DataRequestEvent
    fields = ["at", "status", "note", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OnBehalfForm(forms.ModelForm):
    """A request filed for a person who asked by letter, phone or e-mail."""

    identity_check = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How you verified that the person asking is the account holder (e.g. answered from the "
        "account's address, called back on the number on file). Never attach copies of ID documents.",
    )

    class Meta:
        model = DataRequest
        fields = ["subject", "kind", "identity_check"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].required = True

    def clean_identity_check(self):
        value = self.cleaned_data["identity_check"].strip()
        if not value:
            raise forms.ValidationError("Record how the person's identity was verified.")
        return value


@admin.register(DataRequest)
class DataRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "subject_ref", "received_at", "due", "filed_by", "archive"]
    list_filter = ["status", "kind"]
    search_fields = ["=id", "=subject_ref"]
    ordering = ["due_at", "id"]
    raw_id_fields = ["subject"]
    inlines = [DataRequestEventInline]
    actions = ["run_again", "cancel"]
    readonly_fields = [
        "subject_ref",
        "kind",
        "status",
        "received_at",
        "due_at",
        "requested_by",
        "identity_check",
        "deferred_reason",
        "started_at",
        "finished_at",
        "attempts",
        "retry_at",
        "lease_expires_at",
        "archive",
        "archive_expires_at",
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = OnBehalfForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["subject", "kind", "identity_check"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False  # the record is evidence; it changes only through the actions

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="answer due", ordering="due_at")
    def due(self, obj):
        if obj.gave_up:
            state = f"FAILED after {obj.attempts} runs"
            if obj.is_overdue:
                state += f", OVERDUE {obj.due_at:%Y-%m-%d}"
            return format_html('<strong class="errornote">{}</strong>', state)
        if obj.is_overdue:
            return format_html(
                '<strong class="errornote" style="padding:2px 6px">OVERDUE {}</strong>', f"{obj.due_at:%Y-%m-%d}"
            )
        return f"{obj.due_at:%Y-%m-%d}"

    @admin.display(description="filed by")
    def filed_by(self, obj):
        return "compliance (on behalf)" if obj.on_behalf else "the person"

    @admin.display(description="export")
    def archive(self, obj):
        if not obj.archive_ready:
            return "-"
        url = reverse("admin:privacy_datarequest_download", args=[obj.pk])
        return format_html('<a href="{}">Download</a> (until {})', url, f"{obj.archive_expires_at:%Y-%m-%d}")

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        file = services.request_export if obj.kind == DataRequest.Kind.EXPORT else services.request_erasure
        try:
            created = file(subject=obj.subject, requested_by=request.user, identity_check=obj.identity_check)
        except services.PrivacyError as error:
            raise PermissionDenied(str(error)) from error
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if not k.startswith("_")})
        obj._state = created._state

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            audit.record("privacy.request_viewed", actor=request.user, data={"request_id": object_id})
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            audit.record("privacy.queue_viewed", actor=request.user)
        return super().changelist_view(request, extra_context)

    def has_run_permission(self, request):
        return request.user.has_perm("privacy.run_datarequest")

    @admin.action(description="Run the selected requests (again)", permissions=["run"])
    def run_again(self, request, queryset):
        count = 0
        for data_request in queryset:
            try:
                services.rerun(request_id=data_request.pk, actor=request.user)
                count += 1
            except services.PrivacyError as error:
                self.message_user(request, f"Request {data_request.pk}: {error}", messages.ERROR)
        if count:
            self.message_user(request, f"{count} request(s) queued to run.", messages.SUCCESS)

    @admin.action(description="Cancel the selected requests", permissions=["run"])
    def cancel(self, request, queryset):
        for data_request in queryset:
            try:
                services.cancel(request_id=data_request.pk, actor=request.user)
            except services.PrivacyError as error:
                self.message_user(request, f"Request {data_request.pk}: {error}", messages.ERROR)

    def get_urls(self):
        return [
            path(
                "<int:request_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="privacy_datarequest_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, request_id: int):
        if not self.has_run_permission(request):
            raise PermissionDenied
        data_request = get_object_or_404(DataRequest, pk=request_id, kind=DataRequest.Kind.EXPORT)
        archive = services.archive_file(data_request)
        if archive is None:
            raise Http404("This export does not exist or has expired.")
        services.record_download(request=data_request, actor=request.user)
        return FileResponse(
            archive,
            as_attachment=True,
            filename=f"data-request-{data_request.pk}-{timezone.localdate():%Y-%m-%d}.zip",
        )
