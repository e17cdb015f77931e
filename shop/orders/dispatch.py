"""Delivery fulfilment: paid delivery orders are packed, shipped and delivered.

Warehouse staff (role "Warehouse staff", assigned to their stores under Store.staff as clerks are)
work on the dispatch desk (dispatch_desk.py); Shop managers act for every store. Each step is a
service here: the order row locked, the transition allowed by Order.TRANSITIONS, an audit event,
and an e-mail to the shopper (with the tracking details when shipped). A shipped order nobody
marked delivered counts as delivered SHOP_AUTO_DELIVERED_DAYS after shipping (beat, hourly).
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from shop.accounts import roles
from shop.catalog.models import Store
from shop.core import audit

from .errors import OrderError
from .lifecycle import ensure_can_fulfil
from .models import Order
from .services import _transition


class DispatchError(OrderError):
    """A dispatch step the shop must refuse; the message is for the member of staff."""


NOT_YOURS = "No order of your stores waits for this step (any more)."


@dataclass(frozen=True)
class Carrier:
    name: str
    pattern: str  # a whole tracking number, upper case, without spaces
    example: str
    tracking_url: str  # {} is the tracking number


CARRIERS = {
    "dhl": Carrier(
        "DHL",
        r"\d{12}|\d{20}|JJD\d{18}",
        "00340434161094042557",
        "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={}",
    ),
    "dpd": Carrier("DPD", r"\d{14}", "01234567890123", "https://tracking.dpd.de/status/de_DE/parcel/{}"),
    "gls": Carrier("GLS", r"\d{11,12}", "12345678901", "https://gls-group.com/DE/de/paketverfolgung?match={}"),
    "ups": Carrier("UPS", r"1Z[0-9A-Z]{16}", "1Z999AA10123456784", "https://www.ups.com/track?tracknum={}"),
}


def carrier_name(code: str) -> str:
    carrier = CARRIERS.get(code)
    return carrier.name if carrier else ""


def normalise_tracking(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "").upper()


def validate_tracking(*, carrier: str, tracking_number: str) -> str:
    """The tracking number in its stored form, or DispatchError with what a valid one looks like."""
    if carrier not in CARRIERS:
        raise DispatchError("Choose the carrier that takes the parcel.")
    number = normalise_tracking(tracking_number)
    spec = CARRIERS[carrier]
    if not re.fullmatch(spec.pattern, number):
        raise DispatchError(
            f"This is not a {spec.name} tracking number. It looks like {spec.example} (spaces do not matter)."
        )
    return number


def tracking_url(order: Order) -> str:
    carrier = CARRIERS.get(order.carrier)
    if carrier is None or not order.tracking_number:
        return ""
    return carrier.tracking_url.format(quote(order.tracking_number, safe=""))


# --- Who works for which store -----------------------------------------------------------------


def is_manager(user) -> bool:
    return user.is_superuser or user.groups.filter(name=roles.MANAGER).exists()


def staff_stores(user) -> QuerySet[Store]:
    """The shipping stores this person packs for (Store.staff); Shop managers and superusers: all."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return Store.objects.none()
    if not user.has_perm("orders.use_dispatch_desk"):
        return Store.objects.none()
    stores = Store.objects.filter(ships_orders=True)
    return stores if is_manager(user) else stores.filter(staff=user)


def to_ship(user) -> QuerySet[Order]:
    """Paid delivery orders of this person's stores, oldest first."""
    return (
        Order.objects.filter(
            status=Order.Status.PAID, fulfillment=Order.Fulfillment.DELIVERY, store__in=staff_stores(user)
        )
        .select_related("store")
        .prefetch_related("lines")
        .order_by("created_at", "pk")
    )


def in_transit(user) -> QuerySet[Order]:
    return (
        Order.objects.filter(status=Order.Status.SHIPPED, store__in=staff_stores(user))
        .select_related("store")
        .order_by("shipped_at", "pk")
    )


def _locked(order_id: int, user, status: str) -> Order:
    order = (
        Order.objects.select_for_update()
        .filter(pk=order_id, fulfillment=Order.Fulfillment.DELIVERY, store__in=list(staff_stores(user)))
        .first()
    )
    if order is None:
        raise DispatchError(NOT_YOURS)
    if order.status != status:
        raise DispatchError(f"Order {order.number} is {order.get_status_display().lower()} already.")
    return order


# --- The steps ---------------------------------------------------------------------------------


def ship_order(*, order_id: int, actor, carrier: str, tracking_number: str) -> Order:
    """Paid -> shipped, once: the carrier and tracking number are recorded and e-mailed."""
    number = validate_tracking(carrier=carrier, tracking_number=tracking_number)
    with transaction.atomic():
        order = _locked(order_id, actor, Order.Status.PAID)
        ensure_can_fulfil(order)
        order = _transition(order, Order.Status.SHIPPED)
        order.carrier, order.tracking_number = carrier, number
        order.shipped_at, order.shipped_by = timezone.now(), actor
        order.save(update_fields=["carrier", "tracking_number", "shipped_at", "shipped_by", "updated_at"])
        audit.record("order.shipped", actor=actor, subject=order, data={"store_id": order.store_id, "carrier": carrier})
        from .tasks import send_order_notice

        send_order_notice.delay_on_commit(order.pk, Order.Status.SHIPPED)
    return order


def _deliver(order: Order, *, actor, how: str) -> Order:
    order = _transition(order, Order.Status.DELIVERED)
    order.delivered_at = timezone.now()
    order.save(update_fields=["delivered_at", "updated_at"])
    audit.record("order.delivered", actor=actor, subject=order, data={"store_id": order.store_id, "how": how})
    from .tasks import send_order_notice

    send_order_notice.delay_on_commit(order.pk, Order.Status.DELIVERED)
    return order


def mark_delivered(*, order_id: int, actor) -> Order:
    """Shipped -> delivered, by hand (the carrier confirmed it, or the customer did)."""
    with transaction.atomic():
        return _deliver(_locked(order_id, actor, Order.Status.SHIPPED), actor=actor, how="by hand")


def deliver_overdue(*, now=None) -> int:
    """Shipped orders SHOP_AUTO_DELIVERED_DAYS ago count as delivered (safe to run twice, or on two nodes)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SHOP_AUTO_DELIVERED_DAYS)
    due = list(
        Order.objects.filter(status=Order.Status.SHIPPED, shipped_at__lte=cutoff).values_list("pk", flat=True)[:1000]
    )
    done = 0
    for order_id in due:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=order_id, status=Order.Status.SHIPPED, shipped_at__lte=cutoff)
                .first()
            )
            if order is not None:
                _deliver(order, actor=None, how="automatically after the delivery period")
                done += 1
    return done
