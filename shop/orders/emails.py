"""Every e-mail about an order's lifecycle: one function, one row per kind, each sent once.

Nothing is mailed to an address a visitor merely typed until money moved: the receipt goes out
when the payment succeeds (charged for delivery, authorized for pickup). Notices about an order
that was never paid (expired, cancelled) go only to a signed-in shopper's account address.
Text the shopper typed (names, addresses) passes through the `mailtext` filter in plain-text
templates (control characters out, length bounded) and Django's autoescape in HTML ones.
Pickup's own e-mails (ready, reminder, collected, not collected) live in pickup.py.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from shop.core.mail import template_headers

from . import guest_links
from .models import Order

logger = logging.getLogger(__name__)

S = Order.Status


@dataclass(frozen=True)
class Notice:
    template: str  # without extension; .txt always, .html if `html`
    subject: str
    sent_field: str  # the order field that records it went out
    statuses: frozenset  # sent only while the order is in one of these
    html: bool = False


NOTICES = {
    "receipt": Notice(
        "emails/order_receipt",
        "receipt for your order {number}",
        "confirmation_sent_at",
        frozenset({S.PAID, S.READY_FOR_PICKUP, S.SHIPPED, S.DELIVERED, S.COLLECTED}),
        html=True,
    ),
    S.EXPIRED: Notice(
        "emails/order_expired", "your order {number} expired", "closed_notice_sent_at", frozenset({S.EXPIRED})
    ),
    S.CANCELLED: Notice(
        "emails/order_cancelled", "your order {number} was cancelled", "closed_notice_sent_at", frozenset({S.CANCELLED})
    ),
    S.SHIPPED: Notice(
        "emails/order_shipped", "your order {number} is on its way", "shipped_notice_sent_at", frozenset({S.SHIPPED})
    ),
    S.DELIVERED: Notice(
        "emails/order_delivered",
        "your order {number} was delivered",
        "delivered_notice_sent_at",
        frozenset({S.DELIVERED}),
    ),
}


def order_url(order: Order) -> str:
    link = order.get_absolute_url() if order.user_id else guest_links.url_for(order)
    return settings.SITE_URL + link


def recipient(order: Order, kind: str) -> str | None:
    """Where this notice may go, or None. An order never paid has no receipt: its address was only
    typed, so it hears nothing more unless a signed-in shopper placed it (their account address)."""
    if kind == "receipt" or order.paid_at is not None:
        return order.email
    if order.user_id is not None and order.user.is_active and order.user.email:
        return order.user.email
    return None


def send_notice(*, order_id: int, kind: str) -> bool:
    """Send one notice about the order, once. False when it went already, or does not apply."""
    notice = NOTICES[kind]
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("store", "user").get(pk=order_id)
        if getattr(order, notice.sent_field) is not None or order.status not in notice.statuses:
            return False
        to = recipient(order, kind)
        if to is None:
            return False
        from . import dispatch

        context = {
            "order": order,
            "lines": list(order.lines.all()),
            "order_url": order_url(order),
            "shop_name": settings.SHOP_NAME,
            "tracking_url": dispatch.tracking_url(order),
            "carrier": dispatch.carrier_name(order.carrier),
        }
        message = EmailMultiAlternatives(
            subject=f"{settings.SHOP_NAME}: " + notice.subject.format(number=order.number),
            body=render_to_string(notice.template + ".txt", context),
            to=[to],
            headers=template_headers(notice.template + ".txt"),
        )
        if notice.html:
            message.attach_alternative(render_to_string(notice.template + ".html", context), "text/html")
        message.send()
        setattr(order, notice.sent_field, timezone.now())
        order.save(update_fields=[notice.sent_field])
    logger.info("Order %s e-mail sent for order id %s", kind, order_id)
    return True
