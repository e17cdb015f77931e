"""The fraud analysts' pages in the OTP admin: the review desk, the lists, the model page.

HTTP only: every decision goes through shop/risk/services.py, which audits it and announces it
to orders. Assessments, labels and model versions are read-only here.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from . import interface, services
from .models import Label, ListEntry, ModelVersion, Review, RiskAssessment

DECIDE = "risk.decide_review"


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.HiddenInput)
    note = forms.CharField(
        label="Note for colleagues (no customer data)",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    block = forms.MultipleChoiceField(
        label="On reject, also block",
        required=False,
        choices=[
            ("email", "the e-mail address"),
            ("card", "the card"),
            ("shipping", "the shipping address"),
            ("device", "the device"),
        ],
        widget=forms.CheckboxSelectMultiple,
    )


def _late(review: Review) -> bool:
    return (timezone.now() - review.created_at).total_seconds() > settings.RISK_REVIEW_SLA_HOURS * 3600


class PendingFirst(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Waiting"), ("decided", "Decided"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "pending"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "pending"
        if value == "pending":
            return queryset.filter(status=Review.Status.PENDING)
        if value == "decided":
            return queryset.exclude(status=Review.Status.PENDING)
        return queryset


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """The review desk: held orders, oldest first, each opened on a page with its reasons and history."""

    list_display = ["order_number", "score", "top_reason", "waiting", "status"]
    list_filter = [PendingFirst]
    ordering = ["created_at"]
    search_fields = ["order_number"]
    list_select_related = ["assessment"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decisions are buttons on the review page, not an edit form

    @admin.display(description="score")
    def score(self, review):
        return review.assessment.score

    @admin.display(description="strongest reason")
    def top_reason(self, review):
        reasons = review.assessment.reasons
        return reasons[0]["text"] if reasons else "—"

    @admin.display(description="waiting")
    def waiting(self, review):
        since = timezone.now() - review.created_at
        hours = since.total_seconds() / 3600
        text = f"{hours:.0f} h" if hours >= 1 else f"{since.total_seconds() / 60:.0f} min"
        if review.status == Review.Status.PENDING and _late(review):
            return format_html(
                '<strong class="risk-late">{} (past the {} h SLA)</strong>', text, settings.RISK_REVIEW_SLA_HOURS
            )
        return text

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        # get_object answers None for an id that is not a number (never a 500), as Django's own views do.
        review = self.get_object(request, unquote(object_id))
        if review is None:
            messages.error(request, "This review does not exist.")
            return redirect("admin:risk_review_changelist")
        form = DecisionForm()
        status = 200
        if request.method == "POST":
            if not request.user.has_perm(DECIDE):
                raise PermissionDenied
            form = DecisionForm(request.POST)
            if form.is_valid():
                try:
                    services.decide_review(
                        review_id=review.pk,
                        reviewer=request.user,
                        approve=form.cleaned_data["decision"] == "approve",
                        note=form.cleaned_data["note"],
                        block_kinds=tuple(form.cleaned_data["block"]),
                    )
                except services.RiskError as error:
                    messages.error(request, str(error))
                    status = error.status
                except Exception as error:  # noqa: BLE001  (the payment provider refused a void/refund)
                    messages.error(request, f"Nothing was decided: {error}")
                    status = 502
                else:
                    verb = (
                        "approved: it is released"
                        if form.cleaned_data["decision"] == "approve"
                        else "rejected: it is cancelled"
                    )
                    messages.success(request, f"Order {review.order_number} {verb}.")
                    return redirect("admin:risk_review_changelist")
            else:
                status = 400
        assessments = RiskAssessment.objects.filter(order_id=review.order_id).order_by("created_at")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review of order {review.order_number}",
            "review": review,
            "late": review.status == Review.Status.PENDING and _late(review),
            "sla_hours": settings.RISK_REVIEW_SLA_HOURS,
            "assessments": assessments,
            "latest": assessments.last(),
            "summary": interface.order_summary(review.order_id),
            "form": form,
            "can_decide": request.user.has_perm(DECIDE) and review.status == Review.Status.PENDING,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/risk/review.html", context, status=status)
        response["Cache-Control"] = "no-store"
        return response


class ListEntryForm(forms.ModelForm):
    value = forms.CharField(
        label="Value",
        max_length=300,
        help_text="E-mail address; card fingerprint; device id; shipping address as “street, postal code, city, "
        "country code”; or an address range such as 203.0.113.0/24. Only a keyed hash is stored (ranges as typed).",
    )
    days = forms.IntegerField(label="Expires after (days)", min_value=1, max_value=1095, initial=180)

    class Meta:
        model = ListEntry
        fields = ["kind", "verdict", "reason"]


@admin.register(ListEntry)
class ListEntryAdmin(admin.ModelAdmin):
    list_display = ["kind", "verdict", "hint", "reason", "expires_at", "created_by"]
    list_filter = ["kind", "verdict"]
    form = ListEntryForm

    def has_change_permission(self, request, obj=None):
        return False  # an entry is replaced, not edited: its reason and expiry stay as decided

    def save_model(self, request, obj, form, change):
        try:
            entry = services.add_list_entry(
                kind=form.cleaned_data["kind"],
                verdict=form.cleaned_data["verdict"],
                reason=form.cleaned_data["reason"],
                days=form.cleaned_data["days"],
                value=form.cleaned_data["value"],
                actor=request.user,
            )
        except services.RiskError as error:
            raise forms.ValidationError(str(error)) from error
        obj.pk, obj.created_at = entry.pk, entry.created_at

    def delete_model(self, request, obj):
        services.remove_list_entry(entry_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for entry_id in queryset.values_list("pk", flat=True):
            services.remove_list_entry(entry_id=entry_id, actor=request.user)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnly):
    list_display = ["created_at", "stage", "order_number", "score", "action", "scored_by", "shadow_score"]
    list_filter = ["stage", "action", "scored_by"]
    search_fields = ["order_number"]
    exclude = ["identities", "shipping_hash", "user"]


@admin.register(Label)
class LabelAdmin(ReadOnly):
    list_display = ["created_at", "order_id", "source", "is_fraud"]
    list_filter = ["source", "is_fraud"]
    exclude = ["features"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnly):
    """The model page: each version with its validation metrics and the features it uses."""

    list_display = ["__str__", "created_at", "status", "pr_auc", "recall", "label_count"]
    list_filter = ["status", "kind"]

    @admin.display(description="PR-AUC (validation)")
    def pr_auc(self, version):
        return version.metrics.get("pr_auc")

    @admin.display(description="caught at 1 % FPR")
    def recall(self, version):
        value = version.metrics.get("recall_at_1pct_fpr")
        return f"{value:.0%}" if value is not None else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = self.get_object(request, unquote(object_id))
        if version is None:
            return redirect("admin:risk_modelversion_changelist")
        weights = []
        if version.kind == "logistic":
            weights = sorted(
                zip(version.features, version.parameters["coef"], strict=True), key=lambda pair: -abs(pair[1])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Risk model {version}",
            "version": version,
            "metrics": version.metrics,
            "weights": weights,
            "tree_count": len(version.parameters.get("trees", [])),
            "mode": settings.RISK_MODEL_MODE,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/risk/model.html", context)
