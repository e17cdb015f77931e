"""The device cookie: a random id that lets risk count orders and cards per browser.

Set on the cart, checkout and pay pages only (fraud prevention of the purchase the shopper asked
for; no tracking elsewhere), HttpOnly, SameSite=Lax, Secure where the session cookie is. Only its
keyed hash is ever stored or counted.
"""

import re
import secrets

from django.conf import settings

from .interface import Client

COOKIE = "sf_device"
_AGE = 365 * 86400
_VALID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_PATHS = re.compile(r"^/(cart/|checkout/|orders/[^/]+/pay/)")


def device_id(request) -> str:
    value = request.COOKIES.get(COOKIE, "")
    if not _VALID.fullmatch(value):
        value = getattr(request, "_risk_device", "") or secrets.token_urlsafe(16)
        request._risk_device = value
    return value


def client_of(request) -> Client:
    """Who is asking, for interface facts: session, trusted client address, device."""
    from shop.accounts.lockout import client_ip

    if not request.session.session_key:
        request.session.save()
    return Client(session_key=request.session.session_key, address=client_ip(request), device_id=device_id(request))


class DeviceCookieMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if _PATHS.match(request.path) and not _VALID.fullmatch(request.COOKIES.get(COOKIE, "")):
            response.set_cookie(
                COOKIE,
                device_id(request),
                max_age=_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
