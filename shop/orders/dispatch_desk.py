"""The dispatch desk: a page in the admin where warehouse staff pack, ship and mark delivered the
paid delivery orders of their stores (oldest first). HTTP only; every rule lives in `dispatch`.

The admin site serves it (`ShopAdminSite.get_urls`), so only active, OTP-verified staff reach it;
on top of that it needs `orders.use_dispatch_desk`. Staff see and act on their own stores' orders
only (dispatch.staff_stores); an order id of another store answers like one that does not exist.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import dispatch

PERMISSION = "orders.use_dispatch_desk"


class ShipForm(forms.Form):
    order_id = forms.IntegerField(widget=forms.HiddenInput)
    carrier = forms.ChoiceField(
        label="Carrier",
        choices=[("", "Choose…")] + [(k, c.name) for k, c in dispatch.CARRIERS.items()],
        error_messages={"required": "Choose the carrier that takes the parcel."},
    )
    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=40,
        error_messages={"required": "Type or scan the parcel's tracking number."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("carrier") and data.get("tracking_number"):
            try:
                data["tracking_number"] = dispatch.validate_tracking(
                    carrier=data["carrier"], tracking_number=data["tracking_number"]
                )
            except dispatch.DispatchError as error:
                self.add_error("tracking_number", str(error))
        return data


class OrderIdForm(forms.Form):
    order_id = forms.IntegerField(widget=forms.HiddenInput)


def dispatch_desk(request, *, site):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "ship":
            return _ship(request, site)
        if action == "deliver":
            return _deliver(request, site)
        return _page(request, site, status=400)
    return _page(request, site)


def _ship(request, site):
    form = ShipForm(request.POST)
    if not form.is_valid():
        order_id = form.cleaned_data.get("order_id")
        return _page(request, site, status=400, failed_form=form, failed_order_id=order_id)
    try:
        order = dispatch.ship_order(
            order_id=form.cleaned_data["order_id"],
            actor=request.user,
            carrier=form.cleaned_data["carrier"],
            tracking_number=form.cleaned_data["tracking_number"],
        )
    except dispatch.OrderError as error:
        return _page(request, site, status=error.status, refusal=str(error))
    messages.success(request, f"Order {order.number} is shipped; the customer was e-mailed the tracking number.")
    return redirect("admin:dispatch_desk")


def _deliver(request, site):
    form = OrderIdForm(request.POST)
    if not form.is_valid():
        return _page(request, site, status=400, refusal=dispatch.NOT_YOURS)
    try:
        order = dispatch.mark_delivered(order_id=form.cleaned_data["order_id"], actor=request.user)
    except dispatch.OrderError as error:
        return _page(request, site, status=error.status, refusal=str(error))
    messages.success(request, f"Order {order.number} is marked delivered; the customer was e-mailed.")
    return redirect("admin:dispatch_desk")


def _page(request, site, *, status=200, failed_form=None, failed_order_id=None, **extra):
    to_ship = list(dispatch.to_ship(request.user)[:50])
    for order in to_ship:
        failed = failed_form is not None and order.pk == failed_order_id
        order.ship_form = (
            failed_form if failed else ShipForm(initial={"order_id": order.pk}, auto_id=f"id_%s_{order.pk}")
        )
        if failed:
            order.ship_form.auto_id = f"id_%s_{order.pk}"
    context = {
        **site.each_context(request),
        "title": "Dispatch desk",
        "desk_url": reverse("admin:dispatch_desk"),
        "to_ship": to_ship,
        "in_transit": list(dispatch.in_transit(request.user)[:50]),
        "auto_delivered_days": dispatch.settings.SHOP_AUTO_DELIVERED_DAYS,
        **extra,
    }
    response = TemplateResponse(request, "admin/orders/dispatch_desk.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response
