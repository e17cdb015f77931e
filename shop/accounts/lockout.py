"""Lockout policy on top of django-axes.

- 5 failed logins (or second factors) for one account from one address lock that pair for
  15 minutes (axes itself, AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]).
- 30 failures from one address across any accounts lock the address (ShopAxesHandler below):
  a password-spraying client cannot try a few passwords on thousands of accounts.
- From 3 failures on, the address must solve a proof-of-work challenge to log in.
Counters are AccessAttempt rows in the database, so every web node sees the same numbers.
"""

from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone

from shop.core.client_address import client_address


def client_ip(request) -> str:
    """The client's address for axes (AXES_CLIENT_IP_CALLABLE): shop.core.client_address decides."""
    return client_address(request)


def username_from_request(request, credentials) -> str | None:
    """Count failures per normalised e-mail address, whatever case the attacker types."""
    username = (credentials or {}).get("username") or request.POST.get(settings.AXES_USERNAME_FORM_FIELD)
    return username.strip().lower() if username else None


def address_failures(ip_address: str) -> int:
    """Failures from one address within the cool-off window, across every account."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    total = AccessAttempt.objects.filter(ip_address=ip_address, attempt_time__gte=since).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return total or 0


def needs_challenge(request) -> bool:
    return address_failures(client_ip(request)) >= settings.SHOP_CHALLENGE_AFTER_FAILURES


class ShopAxesHandler(AxesDatabaseHandler):
    """Axes' database handler plus the address-wide limit."""

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            return True
        ip_address = getattr(request, "axes_ip_address", None) or client_ip(request)
        return address_failures(ip_address) >= settings.SHOP_LOCKOUT_FAILURES_PER_ADDRESS

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None and getattr(request, "axes_locked_out", False):
            # Axes refused this attempt because a lock is already in place, and sends
            # user_locked_out again for it: mark it, so that a lockout is audited and its notice
            # e-mailed once, not at every attempt an attacker makes while it lasts.
            request.shop_already_locked_out = True
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if (
            request is not None
            and not getattr(request, "axes_locked_out", False)
            and address_failures(request.axes_ip_address) >= settings.SHOP_LOCKOUT_FAILURES_PER_ADDRESS
        ):
            request.axes_locked_out = True
            user_locked_out.send("axes", request=request, username=None, ip_address=request.axes_ip_address)


def lockout_response(request, original_response=None, credentials=None):
    """429 with a page that says how long to wait and how to get back in."""
    minutes = int(settings.AXES_COOLOFF_TIME / timedelta(minutes=1))
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
