"""The order's way out of every open status that is not a desk's job (see README "Order lifecycle").

- Unpaid orders expire after the payment window (`expire_unpaid`, Celery beat every minute).
- A shopper cancels their own unpaid order (`cancel_unpaid_order`).
- A Shop manager cancels a paid order that has not shipped, with a full refund (`cancel_paid_order`),
  and records a return within the withdrawal period (`record_return`).
- `ensure_can_fulfil` is the one rule that says whether an order may be shipped or handed over.

Lock order (everywhere in orders and payments): the order row, then its payment rows, then stock
rows by (store, product). The late-payment race is settled by it: pay_order, the 3-D Secure
return and webhooks lock the order before they touch its payment, so either the payment marks the
order paid first, or the order is expired first and the money that arrives later is reversed
(payments.services._reverse_late_payment).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone

from shop.catalog import services as catalog_services
from shop.catalog.models import Stock
from shop.core import audit

from . import fraud, signals
from .errors import IllegalTransition, NotFulfillable, OrderError
from .models import Order, OrderLine, OrderReturn
from .services import _transition, cancel_order, restock

logger = logging.getLogger(__name__)

EXPIRY_BATCH = 500


# --- Fulfilment eligibility ------------------------------------------------------------------


def ensure_can_fulfil(order: Order) -> None:
    """Raise NotFulfillable unless this (locked) order may leave the shop: shipped or handed over.

    One place for the rule, called by dispatch.ship_order and pickup.hand_over, so an order held
    for a fraud review (shop.risk) holds both desks at once.
    """
    if order.status not in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP):
        raise NotFulfillable(
            f"Order {order.number} is {order.get_status_display().lower()}: only paid orders leave the shop."
        )
    if fraud.is_held(order):
        raise NotFulfillable(
            f"Order {order.number} is held for a fraud review: do not hand it over or ship it. "
            "A fraud analyst decides first."
        )


# --- Unpaid orders -----------------------------------------------------------------------------


def is_past_due(order: Order, *, now=None) -> bool:
    return order.payment_due_at is not None and order.payment_due_at <= (now or timezone.now())


def _close_unpaid(order: Order, *, status: str, actor, reason: str) -> Order:
    """Under the order's lock: release every payment (authorized or still in 3-D Secure), give the
    units back, and move the order to `status` (cancelled or expired)."""
    from shop.payments import services as payments

    payments.void_for_order(order_id=order.pk)
    order.refresh_from_db()
    if order.status != Order.Status.AWAITING_PAYMENT:
        return order  # a 3-D Secure check completed just in time: the payment paid the order
    order = _transition(order, status)
    units = restock(order)
    audit.record(f"order.{status}", actor=actor, subject=order, data={"reason": reason[:200], "units": units})
    from .tasks import send_order_notice

    send_order_notice.delay_on_commit(order.pk, status)
    return order


def expire_unpaid(*, now=None, limit: int = EXPIRY_BATCH) -> int:
    """Expire orders still unpaid after their payment window. Beat runs it every minute.

    Orders with no payment to release (nearly all of them) are expired set-based, `limit` at a
    time in one transaction: their rows locked with `skip_locked` (an order a payment is working on
    right now, or that another beat node is expiring, is passed over and taken next minute), one
    UPDATE of the orders, one of each (store, product) stock row in lock order, one audit event
    naming the ids. Orders with an authorization or an open 3-D Secure check go one by one, since
    each needs the gateway. Safe to run twice or on two nodes at once. Returns how many it expired.
    """
    from shop.payments.models import Payment

    now = now or timezone.now()
    due = Order.objects.filter(status=Order.Status.AWAITING_PAYMENT, payment_due_at__lte=now)
    open_payment = Payment.objects.filter(
        order_id=OuterRef("pk"), status__in=(Payment.Status.AUTHORIZED, Payment.Status.REQUIRES_ACTION)
    )
    expired = _expire_batch(due.exclude(Exists(open_payment)), now=now, limit=limit)
    for order_id in list(
        due.filter(Exists(open_payment)).order_by("payment_due_at").values_list("pk", flat=True)[:limit]
    ):
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=order_id)
                .filter(status=Order.Status.AWAITING_PAYMENT, payment_due_at__lte=now)
                .first()
            )
            if order is None:
                continue
            order = _close_unpaid(
                order, status=Order.Status.EXPIRED, actor=None, reason="not paid within the payment window"
            )
            expired += order.status == Order.Status.EXPIRED
    if expired:
        logger.info("Expired %s unpaid order(s)", expired)
    return expired


def _expire_batch(candidates, *, now, limit: int) -> int:
    """One transaction: expire up to `limit` unpaid orders that have no payment to release."""
    from shop.payments.models import Payment

    with transaction.atomic():
        ids = list(candidates.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        # A payment may have started on one of them between the query and the lock: leave those.
        busy = set(
            Payment.objects.filter(order_id__in=ids)
            .exclude(status__in=(Payment.Status.DECLINED, Payment.Status.VOIDED))
            .values_list("order_id", flat=True)
        )
        ids = [pk for pk in ids if pk not in busy]
        if not ids:
            return 0
        Order.objects.filter(pk__in=ids).update(
            status=Order.Status.EXPIRED,
            closed_at=now,
            updated_at=now,
            placed_session_digest="",
            placed_address_digest="",
        )
        units = (
            OrderLine.objects.filter(order_id__in=ids, product__isnull=False)
            .values("order__store_id", "product_id")
            .annotate(units=Sum("quantity"))
            .order_by("order__store_id", "product_id")  # the stock lock order
        )
        for row in units:
            Stock.objects.filter(store_id=row["order__store_id"], product_id=row["product_id"]).update(
                quantity=F("quantity") + row["units"]
            )
        catalog_services.catalogue_changed()
        audit.record(
            "order.expired",
            data={
                "order_ids": ids,
                "reason": "not paid within the payment window",
                "units": sum(r["units"] for r in units),
            },
        )
        owners = dict(Order.objects.filter(pk__in=ids).values_list("pk", "user_id"))
        from .tasks import send_order_notice

        for order_id, user_id in owners.items():
            if user_id is not None:
                send_order_notice.delay_on_commit(order_id, Order.Status.EXPIRED)
            transaction.on_commit(
                lambda o=order_id, u=user_id: signals.order_closed.send(
                    sender=Order, order_id=o, user_id=u, status=Order.Status.EXPIRED
                )
            )
    return len(ids)


def cancel_unpaid_order(*, order: Order, actor=None) -> Order:
    """The shopper cancels their own order before paying: units back on sale, nothing charged."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.AWAITING_PAYMENT:
            raise IllegalTransition(
                f"Order {locked.number} is {locked.get_status_display().lower()}: only an unpaid order can be "
                "cancelled here. To cancel a paid order, contact us."
            )
        return _close_unpaid(locked, status=Order.Status.CANCELLED, actor=actor, reason="cancelled by the shopper")


# --- Shop managers: cancel a paid order, record a return -------------------------------------


def cancel_paid_order(*, order: Order, manager, reason: str = "cancelled by a Shop manager") -> Order:
    """A paid order that has not shipped: full refund (or void) through the gateway, units back, e-mail."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status not in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP, Order.Status.AWAITING_PAYMENT):
            raise IllegalTransition(
                f"Order {locked.number} is {locked.get_status_display().lower()}: it can no longer be cancelled."
                + (
                    " Record a return instead."
                    if locked.status in (Order.Status.SHIPPED, Order.Status.DELIVERED)
                    else ""
                )
            )
        locked = cancel_order(order=locked, actor=manager, reason=reason)
        from .tasks import send_order_notice

        send_order_notice.delay_on_commit(locked.pk, Order.Status.CANCELLED)
    return locked


def return_deadline(order: Order):
    """The last moment a return is recorded: 14 days (SHOP_RETURN_WINDOW_DAYS) after delivery."""
    start = order.delivered_at or order.shipped_at
    return start + timedelta(days=settings.SHOP_RETURN_WINDOW_DAYS) if start else None


def record_return(
    *, order: Order, manager, refund_minor: int, restock_lines: dict[int, int], note: str = "", key: str
) -> OrderReturn:
    """Goods came back within the withdrawal period: refund (all or part), restock what is sellable.

    `restock_lines` maps OrderLine ids to the units that go back on the shelf (at most what was bought).
    """
    from shop.payments import services as payments

    with transaction.atomic():
        locked = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
        if locked.status not in (Order.Status.SHIPPED, Order.Status.DELIVERED):
            raise IllegalTransition(
                f"Order {locked.number} is {locked.get_status_display().lower()}: only shipped or delivered "
                "orders can be returned."
            )
        deadline = return_deadline(locked)
        if deadline is not None and timezone.now() > deadline:
            raise OrderError(
                f"The return period of order {locked.number} ended on {timezone.localtime(deadline):%d.%m.%Y}."
            )
        lines = {line.pk: line for line in locked.lines.all()}
        for line_id, units in restock_lines.items():
            if line_id not in lines or not 0 <= units <= lines[line_id].quantity:
                raise OrderError("Restock at most the units that were bought on each line.")
        refund = None
        if refund_minor:
            refund = payments.refund_for_order(
                order_id=locked.pk, actor=manager, amount_minor=refund_minor, key=f"return-{key}"
            )
            if refund is None:
                raise OrderError("This order has no captured payment left to refund.")
        locked = _transition(locked, Order.Status.RETURNED)
        restocked = 0
        for line_id, units in sorted(restock_lines.items(), key=lambda item: lines[item[0]].product_id or 0):
            line = lines[line_id]
            if units and line.product_id:
                Stock.objects.filter(store=locked.store, product_id=line.product_id).update(
                    quantity=F("quantity") + units
                )
                restocked += units
        if restocked:
            catalog_services.catalogue_changed()
        record = OrderReturn.objects.create(
            order=locked, refunded_minor=refund_minor, restocked_units=restocked, note=note[:300], recorded_by=manager
        )
        audit.record(
            "order.returned",
            actor=manager,
            subject=locked,
            data={
                "return_id": record.pk,
                "refund_id": refund.pk if refund else None,
                "amount_minor": refund_minor,
                "restocked_units": restocked,
            },
        )
    return record


__all__ = [
    "NotFulfillable",
    "cancel_paid_order",
    "cancel_unpaid_order",
    "ensure_can_fulfil",
    "expire_unpaid",
    "is_past_due",
    "record_return",
]
