"""The incident and breach register in the OTP admin (HTTP only: every write goes through services).

Compliance officers file and work incidents; managers read them. The change page shows the
72-hour clock, the timeline with a field to add to it, the form to record the authority
notification, and the link to the subjects' notification. The security dashboard is served
from here too (admin_dashboard.py).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import admin_dashboard
from .emails import render_subject_notice
from .models import Incident, SubjectNotification
from .services import incidents as service
from .services import notifications


class IncidentForm(forms.ModelForm):
    affected_data = forms.MultipleChoiceField(
        label="Affected data categories",
        choices=Incident.DATA_CATEGORIES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Incident
        fields = [
            "title",
            "category",
            "severity",
            "status",
            "is_breach",
            "detected_at",
            "became_aware_at",
            "description",
            "affected_data",
            "subjects_scope",
            "subject_ids",
            "window_start",
            "window_end",
            "responsible",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "responsible" in self.fields:
            self.fields["responsible"].queryset = get_user_model().objects.filter(is_staff=True, is_active=True)
            self.fields["responsible"].label_from_instance = lambda user: user.get_full_name() or user.email

    def clean(self):
        data = super().clean()
        probe = Incident(**{k: v for k, v in data.items() if k != "responsible"})
        try:
            service.check_incident(probe)
        except service.IncidentError as error:
            raise forms.ValidationError(str(error)) from error
        return data


class EntryForm(forms.Form):
    text = forms.CharField(label="What happened or was done", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class AuthorityForm(forms.Form):
    notified_at = forms.DateTimeField(
        label="Notified the supervisory authority at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    reference = forms.CharField(label="Authority's case reference", max_length=100, required=False)


class NoticeForm(forms.Form):
    subject_line = forms.CharField(label="E-mail subject", max_length=150)
    body = forms.CharField(
        label="E-mail text",
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Plain text. $first_name, $shop_name and $reference are filled in for each person; nothing else is.",
    )


DEFAULT_NOTICE = (
    "Dear $first_name,\n\n"
    "we are writing to tell you about a security incident at $shop_name (our reference $reference) "
    "that affects your personal data.\n\n"
    "What happened: ...\n"
    "Which of your data: ...\n"
    "What we have done: ...\n"
    "What you can do: change your password and turn on two-step sign-in. We will never ask you for a "
    "code or your password by phone or e-mail.\n\n"
    "Our data protection officer answers your questions at ...\n"
)


def clock_badge(incident: Incident):
    clock = incident.clock()
    return format_html('<span class="breach-clock breach-clock-{}">{}</span>', clock["state"], clock["text"])


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentForm
    list_display = ["reference", "title", "severity", "status", "is_breach", "became_aware_at", "clock"]
    list_filter = ["status", "is_breach", "severity", "category"]
    search_fields = ["reference", "title"]
    readonly_fields = ["reference", "clock", "authority_notified_at", "authority_reference", "reminders_sent"]
    change_form_template = "admin/operations/incident/change_form.html"
    change_list_template = "admin/operations/incident/change_list.html"

    @admin.display(description="72-hour clock")
    def clock(self, obj):
        return clock_badge(obj) if obj.pk else "-"

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # the register is evidence

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.cleaned_data if name != "responsible"}
        responsible = form.cleaned_data.get("responsible", [])
        if change:
            saved = service.update_incident(
                incident_id=obj.pk, actor=request.user, fields=fields, responsible=responsible
            )
        else:
            saved = service.file_incident(actor=request.user, fields=fields, responsible=responsible)
        obj.pk, obj.reference = saved.pk, saved.reference
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the services set "responsible" with the change they audit

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="operations_dashboard"),
            path("dashboard/chart/<slug:figure>.svg", view(self.chart_view), name="operations_dashboard_chart"),
            path("dashboard/export.csv", view(self.csv_view), name="operations_dashboard_csv"),
            path("<int:pk>/entry/", view(self.entry_view), name="operations_incident_entry"),
            path("<int:pk>/authority/", view(self.authority_view), name="operations_incident_authority"),
            path("<int:pk>/notify/", view(self.notify_view), name="operations_incident_notify"),
            *super().get_urls(),
        ]

    # --- the incident page ------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, object_id)
        extra = extra_context or {}
        if incident is not None:
            extra.update(
                incident=incident,
                clock=incident.clock(),
                entries=incident.entries.select_related("author"),
                entry_form=EntryForm(),
                authority_form=AuthorityForm(initial={"notified_at": timezone.localtime().replace(second=0)}),
                may_change=self.has_change_permission(request, incident),
                notification=SubjectNotification.objects.filter(incident=incident).first(),
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _incident_for_change(self, request, pk) -> Incident:
        incident = get_object_or_404(Incident, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, incident):
            raise PermissionDenied
        return incident

    def entry_view(self, request, pk):
        incident = self._incident_for_change(request, pk)
        form = EntryForm(request.POST)
        if form.is_valid():
            service.add_entry(incident_id=incident.pk, actor=request.user, text=form.cleaned_data["text"])
            messages.success(request, "Added to the timeline.")
        else:
            messages.error(request, "A timeline entry needs a text.")
        return redirect("admin:operations_incident_change", incident.pk)

    def authority_view(self, request, pk):
        incident = self._incident_for_change(request, pk)
        form = AuthorityForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the date and time the authority was notified.")
            return redirect("admin:operations_incident_change", incident.pk)
        try:
            service.record_authority_notification(
                incident_id=incident.pk,
                actor=request.user,
                at=form.cleaned_data["notified_at"],
                reference=form.cleaned_data["reference"],
            )
        except service.IncidentError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "The authority notification is recorded; the reminders stop.")
        return redirect("admin:operations_incident_change", incident.pk)

    # --- notifying the subjects --------------------------------------------------------------

    def notify_view(self, request, pk):
        incident = get_object_or_404(Incident, pk=pk)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        may_notify = request.user.has_perm("operations.notify_subjects")
        notification = SubjectNotification.objects.filter(incident=incident).first()
        form = None
        if request.method == "POST":
            if not may_notify:
                raise PermissionDenied
            action = request.POST.get("action")
            try:
                if action == "save":
                    form = NoticeForm(request.POST)
                    if form.is_valid():
                        notifications.save_draft(incident_id=incident.pk, actor=request.user, **form.cleaned_data)
                        messages.success(request, "Draft saved. Read the preview, then mark it reviewed.")
                        return redirect("admin:operations_incident_notify", incident.pk)
                elif action == "review" and notification is not None:
                    notifications.mark_reviewed(notification_id=notification.pk, actor=request.user)
                    messages.success(request, "Reviewed. Sending starts when you press Send.")
                    return redirect("admin:operations_incident_notify", incident.pk)
                elif action == "send" and notification is not None:
                    notifications.start_sending(notification_id=notification.pk, actor=request.user)
                    messages.success(request, "Sending has started.")
                    return redirect("admin:operations_incident_notify", incident.pk)
            except service.IncidentError as error:
                messages.error(request, str(error))
                return redirect("admin:operations_incident_notify", incident.pk)
        if form is None:
            initial = (
                {"subject_line": notification.subject_line, "body": notification.body}
                if notification
                else {"subject_line": "Important: a security incident affecting your data", "body": DEFAULT_NOTICE}
            )
            form = NoticeForm(initial=initial)
        subjects = service.affected_subjects(incident)
        sample = subjects.order_by("pk").first()
        preview = render_subject_notice(notification, sample) if notification and sample else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Notify the affected subjects of {incident.reference}",
            "incident": incident,
            "clock": incident.clock(),
            "notification": notification,
            "form": form,
            "preview": preview,
            "subject_count": subjects.count(),
            "may_notify": may_notify,
            "refresh": notification is not None and notification.status == SubjectNotification.Status.SENDING,
        }
        return TemplateResponse(request, "admin/operations/incident/notify.html", context)

    # --- the dashboard ---------------------------------------------------------------------

    def dashboard_view(self, request):
        return admin_dashboard.dashboard(request, site=self.admin_site, opts=self.model._meta)

    def chart_view(self, request, figure):
        return admin_dashboard.chart(request, figure=figure)

    def csv_view(self, request):
        return admin_dashboard.csv_export(request)

    def changelist_view(self, request, extra_context=None):
        extra = extra_context or {}
        if admin_dashboard.can_view(request.user):
            extra["dashboard_url"] = reverse("admin:operations_dashboard")
        return super().changelist_view(request, extra_context=extra)
