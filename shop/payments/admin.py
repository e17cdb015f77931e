"""Payments in the admin: read-only records, and a refund page for Shop managers.

Nothing here changes a payment directly. The refund page parses a form and calls
services.refund, which checks the limits under a row lock, talks to the gateway, audits and
notifies the shopper. Opening it needs the custom permission payments.refund_payment on top of
the OTP-verified staff session that every admin page needs.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from shop.core.forms import AmountField
from shop.core.templatetags.money import money

from . import services
from .gateways.base import GatewayError
from .models import Payment, PaymentMethod, Refund, WebhookEvent

REFUND_PERMISSION = "payments.refund_payment"


class RefundForm(forms.Form):
    """Starts empty: the manager types the amount (a pre-filled full amount is refunded by one careless click)."""

    amount = AmountField(
        label="Amount to refund",
        help_text="In currency units, e.g. 12,50 or 12.50. At most what was captured and not yet refunded.",
    )
    # One key per rendered form: a double click or a resent POST refunds once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    fraud = forms.BooleanField(
        label="This order was fraud",
        required=False,
        help_text="The card's owner did not make this order. The risk engine learns from it.",
    )

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.fields["amount"].currency = payment.currency

    @property
    def amount_minor(self) -> int:
        return self.cleaned_data["amount"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the services write; the admin only shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["created_at", "amount", "reference", "created_by"]
    readonly_fields = fields

    @admin.display(description="amount")
    def amount(self, obj):
        return money(obj.amount_minor, obj.payment.currency)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "order_number",
        "status",
        "amount",
        "captured",
        "refunded",
        "card",
        "gateway",
        "created_at",
    ]
    list_filter = ["status", "gateway", "created_at"]
    search_fields = ["=order__number", "=reference"]
    date_hierarchy = "created_at"
    list_select_related = ["order"]
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [RefundInline]

    @admin.display(description="order", ordering="order__number")
    def order_number(self, obj):
        return obj.order.number

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj):
        return money(obj.amount_minor, obj.currency)

    @admin.display(description="captured", ordering="captured_minor")
    def captured(self, obj):
        return money(obj.captured_minor, obj.currency)

    @admin.display(description="refunded", ordering="refunded_minor")
    def refunded(self, obj):
        return money(obj.refunded_minor, obj.currency)

    @admin.display(description="card")
    def card(self, obj):
        return f"{obj.card_brand} •••• {obj.card_last4}" if obj.card_last4 else "—"

    @admin.display(description="refund")
    def refund_link(self, obj):
        if obj.status != Payment.Status.CAPTURED or obj.refundable_minor <= 0:
            return ""
        return format_html('<a href="{}">Refund</a>', reverse("admin:payments_payment_refund", args=[obj.pk]))

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [*columns, "refund_link"] if request.user.has_perm(REFUND_PERMISSION) else columns

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_refund": request.user.has_perm(REFUND_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        refund = path(
            "<path:object_id>/refund/",
            self.admin_site.admin_view(self.refund_view),
            name="payments_payment_refund",
        )
        return [refund, *super().get_urls()]

    def refund_view(self, request, object_id):
        """A full or partial refund of one captured payment."""
        if not request.user.has_perm(REFUND_PERMISSION):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404("No such payment.")  # the admin's <path:object_id> takes anything
        payment = get_object_or_404(Payment.objects.select_related("order"), pk=object_id)
        status = 200
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment)
            status = 400
            if form.is_valid():
                try:
                    created = services.refund(
                        payment=payment,
                        amount_minor=form.amount_minor,
                        actor=request.user,
                        idempotency_key=form.cleaned_data["idempotency_key"],
                        fraud=form.cleaned_data["fraud"],
                    )
                except services.PaymentError as error:
                    self.message_user(request, str(error), messages.ERROR)
                    status = 409
                except GatewayError:
                    self.message_user(
                        request,
                        "The payment provider could not be reached. Nothing was refunded; try again later.",
                        messages.ERROR,
                    )
                    status = 503
                else:
                    self.message_user(
                        request,
                        f"Refunded {money(created.amount_minor, payment.currency)} of order {payment.order.number}. "
                        "The shopper gets an e-mail about it.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:payments_payment_change", payment.pk)
                payment.refresh_from_db()
        else:
            form = RefundForm(
                payment=payment,
                initial={"idempotency_key": services.new_idempotency_key()},
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Refund payment for order {payment.order.number}",
            "payment": payment,
            "original": payment,
            "form": form,
            "captured": money(payment.captured_minor, payment.currency),
            "refunded": money(payment.refunded_minor, payment.currency),
            "refundable": money(payment.refundable_minor, payment.currency),
        }
        return TemplateResponse(request, "payments/admin_refund.html", context, status=status)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "payment", "order_number", "amount", "reference", "created_by"]
    list_filter = ["created_at"]
    search_fields = ["=payment__order__number", "=reference"]
    list_select_related = ["payment__order", "created_by"]
    readonly_fields = [f.name for f in Refund._meta.fields]

    @admin.display(description="order", ordering="payment__order__number")
    def order_number(self, obj):
        return obj.payment.order.number

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj):
        return money(obj.amount_minor, obj.payment.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "gateway", "type", "event_id", "reference", "processed_at"]
    list_filter = ["gateway", "type", "received_at"]
    search_fields = ["=event_id", "=reference"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    """Saved cards: the token and how to recognise the card. Shoppers delete their own on their account."""

    list_display = ["created_at", "user_id", "gateway", "brand", "last4", "exp_month", "exp_year"]
    list_filter = ["gateway", "brand"]
    search_fields = ["=user__email"]
    # The token is a credential for charging the card at the gateway: not shown.
    readonly_fields = ["user", "gateway", "brand", "last4", "exp_month", "exp_year", "created_at"]
    fields = readonly_fields
