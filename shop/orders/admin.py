import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from shop.core.forms import AmountField
from shop.core.templatetags.money import money
from shop.payments.services import PaymentError

from . import lifecycle, pickup, services
from .models import Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["product_name", "quantity", "unit_price_minor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change only through services (status transitions, stock); the admin reads them."""

    list_display = ["number", "created_at", "status", "fulfillment", "store", "total", "email"]
    list_filter = ["status", "fulfillment", "store", "created_at"]
    search_fields = ["=number", "email"]
    date_hierarchy = "created_at"
    list_select_related = ["store"]
    inlines = [OrderLineInline]
    actions = ["mark_ready_for_pickup", "cancel_orders"]
    readonly_fields = ["return_link", *(f.name for f in Order._meta.fields)]

    @admin.display(description="total", ordering="total_minor")
    def total(self, obj):
        return money(obj.total_minor, obj.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark ready for pickup (e-mails the shopper their pickup code)", permissions=["change"])
    def mark_ready_for_pickup(self, request, queryset):
        """Paid pickup orders of the user's stores (Shop managers: all) become ready; codes are issued."""
        done = 0
        for order in queryset.select_related("store"):
            try:
                pickup.mark_ready(order=order, actor=request.user)
                done += 1
            except services.OrderError as error:
                self.message_user(request, str(error), messages.WARNING)
        if done:
            self.message_user(
                request, f"Marked {done} order(s) ready for pickup; the shoppers are e-mailed their pickup codes."
            )

    @admin.action(
        description="Cancel selected orders (not shipped): full refund, stock back, shopper e-mailed",
        permissions=["cancel_paid_order"],
    )
    def cancel_orders(self, request, queryset):
        cancelled = 0
        for order in queryset:
            try:
                lifecycle.cancel_paid_order(order=order, manager=request.user)
                cancelled += 1
            except services.OrderError as error:
                self.message_user(request, str(error), messages.WARNING)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {cancelled} order(s): paid amounts refunded in full, stock back on the shelf, "
                "shoppers e-mailed.",
            )

    def has_cancel_paid_order_permission(self, request):
        return request.user.has_perm("orders.cancel_paid_order")

    # --- Returns ----------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("<int:object_id>/return/", self.admin_site.admin_view(self.return_view), name="orders_order_return"),
            *super().get_urls(),
        ]

    @admin.display(description="return")
    def return_link(self, obj):
        if obj.status not in (Order.Status.SHIPPED, Order.Status.DELIVERED):
            return "-"
        return format_html(
            '<a class="button" href="{}">Record a return</a>', reverse("admin:orders_order_return", args=[obj.pk])
        )

    def return_view(self, request, object_id):
        """Goods came back: refund (all or part; the amount starts empty), restock what is sellable."""
        if not self.has_cancel_paid_order_permission(request):
            raise PermissionDenied
        order = get_object_or_404(Order.objects.select_related("store"), pk=object_id)
        lines = list(order.lines.all())
        payment = order.payments.filter(status__in=["captured", "refunded"]).first()
        status = 200
        form = ReturnForm(request.POST or None, lines=lines, currency=order.currency)
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    lifecycle.record_return(
                        order=order,
                        manager=request.user,
                        refund_minor=form.cleaned_data["amount"] or 0,
                        restock_lines=form.restock(),
                        note=form.cleaned_data["note"],
                        key=form.cleaned_data["idempotency_key"],
                    )
                except (services.OrderError, PaymentError) as error:
                    form.add_error(None, str(error))
                    status = getattr(error, "status", 409)
                else:
                    self.message_user(request, f"Return of order {order.number} recorded.")
                    return redirect("admin:orders_order_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Return of order {order.number}",
            "order": order,
            "form": form,
            "refundable": money(payment.refundable_minor, payment.currency) if payment else money(0, order.currency),
            "deadline": lifecycle.return_deadline(order),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orders/order_return.html", context, status=status)


class ReturnForm(forms.Form):
    amount = AmountField(
        label="Amount to refund",
        required=False,
        help_text="In currency units, e.g. 10,50 or 10.50; leave empty to refund nothing. Partial refunds are allowed.",
    )
    note = forms.CharField(label="Note (condition of the goods)", max_length=300, required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, lines, currency: str, **kwargs):
        kwargs.setdefault("initial", {"idempotency_key": uuid.uuid4().hex})
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency
        self.lines = lines
        for line in lines:
            self.fields[f"restock_{line.pk}"] = forms.IntegerField(
                label=f"Back on the shelf: {line.product_name} (of {line.quantity})",
                min_value=0,
                max_value=line.quantity,
                initial=0,
            )

    def restock(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"restock_{line.pk}"] for line in self.lines}
