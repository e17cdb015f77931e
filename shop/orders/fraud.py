"""Orders' side of the risk engine (shop/risk/interface.py): the facts of a checkout, the hold,
and what a reviewer's decision does to the order.

Risk never imports orders: this module describes the order to it, registers the summary the
review desk shows, and handles the review signals inside the reviewer's transaction (approve:
a held delivery order's authorization is captured so it can ship; reject: the order is cancelled,
its authorization voided or its captured money refunded, its units restocked).
"""

from django.db.models import Count, Max
from django.dispatch import receiver

from shop.risk import interface as risk

from .models import Order

# Statuses that count as a customer's good history (paid and not taken back).
_COMPLETED = (Order.Status.PAID, Order.Status.READY_FOR_PICKUP, Order.Status.COLLECTED, Order.Status.SHIPPED)


def assess_checkout(*, lines, email, fulfillment, user, shipping, total_minor, currency, client) -> risk.Assessment:
    """Score the checkout before the order is made; refuse it (neutral words) if the score says block."""
    from .services import OrderError

    user_id = user.pk if user is not None and user.is_authenticated else None
    history = {"count": 0, "largest": 0}
    if user_id:
        history = Order.objects.filter(user_id=user_id, status__in=_COMPLETED).aggregate(
            count=Count("pk"), largest=Max("total_minor")
        )
    address = shipping if fulfillment == Order.Fulfillment.DELIVERY else None
    assessment = risk.assess_order(
        facts=risk.OrderFacts(
            user_id=user_id,
            email=email,
            fulfillment=fulfillment,
            total_minor=total_minor,
            currency=currency,
            lines=tuple(
                risk.LineFacts(
                    product_id=line.product_id,
                    category_slug=line.product.category.slug,
                    quantity=line.quantity,
                    unit_price_minor=line.product.price_minor,
                )
                for line in lines
            ),
            client=client or risk.Client(),
            shipping_street=address.street if address else "",
            shipping_postal_code=address.postal_code if address else "",
            shipping_city=address.city if address else "",
            shipping_country=address.country if address else "",
            prior_orders=history["count"] or 0,
            prior_max_minor=history["largest"] or 0,
        )
    )
    if assessment.blocked:
        raise OrderError(risk.NEUTRAL_ORDER_REFUSAL)
    return assessment


def link(*, assessment: risk.Assessment, order: Order) -> None:
    """Key the checkout assessment by the new order (and hold it, if the score asked for review)."""
    risk.link_order(assessment=assessment, order_id=order.pk, order_number=order.number)


def is_held(order: Order) -> bool:
    """May not ship or be handed over: a fraud analyst has not released it. The one check every
    fulfilment path (pickup hand-over, dispatch) asks."""
    return risk.is_held(order_id=order.pk)


def summary(order_id: int) -> dict | None:
    """What the review desk shows: the order, and the customer's history in this shop."""
    order = Order.objects.filter(pk=order_id).select_related("store").first()
    if order is None:
        return None
    past = Order.objects.filter(user_id=order.user_id).exclude(pk=order.pk) if order.user_id else Order.objects.none()
    if not order.user_id:
        past = Order.objects.filter(email__iexact=order.email, user=None).exclude(pk=order.pk)
    return {
        "number": order.number,
        "status": order.get_status_display(),
        "fulfillment": order.get_fulfillment_display(),
        "store": order.store.name,
        "total_minor": order.total_minor,
        "currency": order.currency,
        "created_at": order.created_at,
        "lines": [(line.quantity, line.product_name, line.line_total_minor) for line in order.lines.all()],
        "ships_to": ", ".join(
            part for part in (order.shipping_postal_code, order.shipping_city, order.shipping_country) if part
        ),
        "account": "guest" if not order.user_id else f"account #{order.user_id}",
        "account_since": order.user.date_joined if order.user_id else None,
        "history": [
            {
                "number": o.number,
                "status": o.get_status_display(),
                "total_minor": o.total_minor,
                "created_at": o.created_at,
            }
            for o in past.order_by("-created_at")[:10]
        ],
        "history_count": past.count(),
    }


risk.set_order_summary_source(summary)


@receiver(risk.review_approved)
def release_held_order(sender, order_id, reviewer, **kwargs):
    """A held delivery order was only authorized: take the money now, so it can be shipped."""
    from shop.payments import services as payments

    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.is_pickup or order.status != Order.Status.PAID:
        return
    if order.payments.filter(status="authorized").exists():
        payments.capture_for_order(order_id=order.pk)


@receiver(risk.review_rejected)
def cancel_rejected_order(sender, order_id, reviewer, note="", **kwargs):
    """Cancel (void the authorization, restock); refund whatever was already captured."""
    from shop.payments import services as payments

    from .services import cancel_order

    order = Order.objects.filter(pk=order_id).first()
    if order is None or not order.can_become(Order.Status.CANCELLED):
        return
    cancel_order(order=order, actor=reviewer, reason="rejected by fraud review")
    for payment in order.payments.filter(status="captured"):
        if payment.refundable_minor:
            payments.refund(
                payment=payment,
                amount_minor=payment.refundable_minor,
                actor=reviewer,
                idempotency_key=f"risk-reject-{payment.pk}",
            )
