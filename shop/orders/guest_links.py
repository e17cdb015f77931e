"""Signed links that let a guest (no account) open their own order from the confirmation e-mail.

The token is the order number signed with the site's secret key and a timestamp: it cannot be
forged or pointed at another order, and it stops working after SHOP_GUEST_ORDER_LINK_MAX_AGE.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "shop.orders.guest-link"


def url_for(order) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(order.number)
    return reverse("orders:guest_order", args=[token])


def order_number_from(token: str) -> str | None:
    try:
        return signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.SHOP_GUEST_ORDER_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
