"""Signed links that let a guest (no account) open their own order from the confirmation e-mail.

The token is the order number signed with the site's secret key and a timestamp: it cannot be
forged or pointed at another order, and it stops working after SHOP_GUEST_ORDER_LINK_MAX_AGE.

A bearer token must not stay in the address bar (history, screenshots, shared links) nor in
logs: opening the link only exchanges it for a grant in the visitor's session (the same one the
session that placed the order has) and redirects to the plain order URL. The link keeps working
for a new session until it expires, so the e-mail stays useful on another device.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "shop.orders.guest-link"


def url_for(order) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(order.number)
    return reverse("orders:guest_order", args=[token])


def grant_in_session(session, number: str) -> None:
    """Let this session see the guest order `number` at its plain URL (at most the last 20 orders)."""
    from .selectors import SESSION_GUEST_ORDERS_KEY

    granted = [n for n in session.get(SESSION_GUEST_ORDERS_KEY, []) if n != number]
    session[SESSION_GUEST_ORDERS_KEY] = [*granted, number][-20:]


def order_number_from(token: str) -> str | None:
    try:
        return signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.SHOP_GUEST_ORDER_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
