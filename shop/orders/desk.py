"""The pickup desk: a page in the admin where a clerk finds a ready order by its QR or typed code and hands it over.

The admin site serves it (`ShopAdminSite.get_urls`), so only active, OTP-verified staff reach it;
on top of that it needs `orders.use_pickup_desk`. Every rule about codes, stores, locks and the
hand-over itself lives in `pickup`; this module only turns requests into calls and answers.

A lookup is bound to the clerk who made it: the page it returns carries a signed ticket (order id +
clerk id, 10 minutes), and the hand-over POST is refused without a valid one. So nobody hands over
an order by posting an id they did not find with a code, and a ticket cannot be passed to a
colleague. Codes and tokens are taken by POST only and never echoed back into the page.
"""

import re

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from shop.accounts import roles
from shop.catalog.models import Store

from . import fraud, pickup
from .models import Order

PERMISSION = "orders.use_pickup_desk"
TICKET_SALT = "shop.orders.desk.ticket"
TICKET_MAX_AGE = 10 * 60
EXPIRED_TICKET = "This lookup is no longer valid. Scan or type the code again."

NOT_FOUND, LOCKED, LIMITED = 404, 423, 429
# pickup.LOCKED with any order number: the order's own lock after too many wrong codes.
_LOCKED_MESSAGE = re.compile(re.escape(pickup.LOCKED).replace(re.escape("{number}"), r"\S+"))


class ScanForm(forms.Form):
    token = forms.CharField(
        label="Scan the QR code",
        max_length=200,
        strip=True,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        ),
    )


class CodeForm(forms.Form):
    number = forms.CharField(
        label="Order number",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )
    code = forms.CharField(
        label="Pickup code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )


class TicketForm(forms.Form):
    order_id = forms.IntegerField(widget=forms.HiddenInput)
    ticket = forms.CharField(max_length=500, widget=forms.HiddenInput)
    id_checked = forms.BooleanField(required=False, label="I checked the customer's ID")


class OrderIdForm(forms.Form):
    order_id = forms.IntegerField(widget=forms.HiddenInput)


def issue_ticket(*, order_id: int, user, purpose: str = "hand") -> str:
    return signing.dumps({"o": order_id, "u": user.pk, "p": purpose}, salt=TICKET_SALT, compress=True)


def ticket_is_valid(*, ticket: str, order_id: int, user, purpose: str = "hand") -> bool:
    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return False
    return isinstance(data, dict) and data == {"o": order_id, "u": user.pk, "p": purpose}


def mask_email(address: str) -> str:
    """a***@example.com: enough for the shopper to recognise, too little to copy."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def pickup_desk(request, *, site):
    user = request.user
    if not user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "scan":
            return _scan(request, site)
        if action == "lookup":
            return _lookup(request, site)
        if action == "hand_over":
            return _hand_over(request, site)
        if action == "release":
            return _release(request, site)
        if action == "ready":
            return _ready(request, site)
        return _page(request, site, status=400)
    return _page(request, site)


def _scan(request, site):
    form = ScanForm(request.POST)
    if not form.is_valid():
        return _refused(request, site, pickup.PickupError(pickup.NEUTRAL))
    try:
        order = pickup.find_by_qr(token=form.cleaned_data["token"], clerk=request.user)
    except pickup.PickupError as error:
        return _refused(request, site, error)
    return _found(request, site, order)


def _lookup(request, site):
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _refused(request, site, pickup.PickupError(pickup.NEUTRAL))
    try:
        order = pickup.find_by_code(
            number=form.cleaned_data["number"], code=form.cleaned_data["code"], clerk=request.user
        )
    except pickup.PickupError as error:
        return _refused(request, site, error)
    return _found(request, site, order)


def _hand_over(request, site):
    form = TicketForm(request.POST)
    if not form.is_valid() or not ticket_is_valid(
        ticket=form.cleaned_data["ticket"], order_id=form.cleaned_data["order_id"], user=request.user, purpose="hand"
    ):
        messages.error(request, EXPIRED_TICKET)
        return _page(request, site, status=400)
    try:
        order = pickup.hand_over(
            order_id=form.cleaned_data["order_id"], clerk=request.user, id_checked=form.cleaned_data["id_checked"]
        )
    except pickup.PickupError as error:
        if str(error) == pickup.ID_CHECK_MISSING:
            # Show the same order again (a fresh ticket), with the box and the message next to it.
            order = Order.objects.filter(pk=form.cleaned_data["order_id"]).first()
            if order is not None:
                response = _found(request, site, order, id_check_error=str(error))
                response.status_code = 400
                return response
        return _refused(request, site, error)
    messages.success(request, f"Order {order.number} handed over.")
    return redirect("admin:pickup_desk")


def _release(request, site):
    """A Shop manager checked the customer's ID and releases a locked order (pickup.release_lock audits it)."""
    if not is_manager(request.user):
        raise PermissionDenied
    form = OrderIdForm(request.POST)
    order = _locked_orders(request.user).filter(pk=form.cleaned_data["order_id"]).first() if form.is_valid() else None
    if order is None:
        messages.error(request, "This order is not locked (any more).")
        return _page(request, site, status=409)
    try:
        pickup.release_lock(order=order, manager=request.user)
    except pickup.PickupError as error:
        return _refused(request, site, error)
    messages.success(request, f"The pickup lock of order {order.number} is released.")
    return redirect("admin:pickup_desk")


def _ready(request, site):
    """The order is packed: mark it ready (pickup.mark_ready issues the codes and e-mails them)."""
    form = OrderIdForm(request.POST)
    order = _to_prepare(request.user).filter(pk=form.cleaned_data["order_id"]).first() if form.is_valid() else None
    if order is None:
        messages.error(request, "This order is not waiting to be prepared in your store (any more).")
        return _page(request, site, status=409)
    try:
        pickup.mark_ready(order=order, actor=request.user)
    except pickup.PickupError as error:
        return _refused(request, site, error)
    messages.success(request, f"Order {order.number} is ready; the customer was e-mailed the pickup code.")
    return redirect("admin:pickup_desk")


def _to_prepare(user):
    """Paid pickup orders of the stores this person works for (Shop managers: every store)."""
    stores = Store.objects.all() if is_manager(user) else pickup.clerk_stores(user)
    return (
        Order.objects.filter(status=Order.Status.PAID, fulfillment=Order.Fulfillment.PICKUP, store__in=stores)
        .select_related("store")
        .order_by("created_at")
    )


def is_manager(user) -> bool:
    return user.is_superuser or user.groups.filter(name=roles.MANAGER).exists()


def _locked_orders(user):
    """Locked ready orders a manager may release: Shop managers act for every store."""
    if not is_manager(user):
        return Order.objects.none()
    return (
        Order.objects.filter(status=Order.Status.READY_FOR_PICKUP, pickup_locked_at__isnull=False)
        .select_related("store")
        .order_by("pickup_locked_at")
    )


def _status(error: Exception) -> int:
    if isinstance(error, pickup.DeskLocked):
        return LIMITED
    if str(error) == pickup.NEUTRAL:
        return NOT_FOUND
    if _LOCKED_MESSAGE.fullmatch(str(error)):
        return LOCKED
    return 409  # e.g. already handed over, not assigned to a store, capture failed


def _refused(request, site, error: Exception):
    return _page(request, site, status=_status(error), refusal=str(error) or pickup.NEUTRAL)


def _found(request, site, order, **extra):
    lines = list(order.lines.all())
    context = {
        "order": order,
        "lines": lines,
        "item_count": sum(line.quantity for line in lines),
        "first_name": (order.user.first_name if order.user_id else "") or "",
        "masked_email": mask_email(order.email),
        "id_check": pickup.id_check_required(order),
        "held": fraud.is_held(order),
        "ticket": issue_ticket(order_id=order.pk, user=request.user, purpose="hand"),
        **extra,
    }
    return _page(request, site, **context)


def _page(request, site, *, status=200, **extra):
    context = {
        **site.each_context(request),
        "title": "Pickup desk",
        "scan_form": ScanForm(),
        "code_form": CodeForm(),
        "desk_url": reverse("admin:pickup_desk"),
        "locked_orders": list(_locked_orders(request.user)[:50]),
        "to_prepare": list(_to_prepare(request.user)[:50]),
        **extra,
    }
    response = TemplateResponse(request, "admin/orders/desk.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response
