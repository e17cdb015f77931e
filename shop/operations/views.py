"""Public pages of security operations: security.txt (RFC 9116) and the shopper security page."""

from datetime import UTC, timedelta

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe


def _contacts() -> list[str]:
    return [contact for contact in settings.SECURITY_CONTACT if contact]


@require_safe
def security_txt(request):
    """RFC 9116: Contact (one or more) and Expires are required; Policy and Canonical help a reporter.

    Expires is computed from today, so the file never goes stale; keep the period short (the RFC
    recommends less than a year) so that a contact that changes is not trusted for long.
    """
    expires = (timezone.now() + timedelta(days=settings.SECURITY_TXT_EXPIRES_DAYS)).replace(microsecond=0)
    policy = settings.SECURITY_POLICY_URL or settings.SITE_URL + reverse("operations:security")
    lines = [f"Contact: {contact}" for contact in _contacts()]
    lines += [
        f"Expires: {expires.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Policy: {policy}",
        f"Canonical: {settings.SITE_URL}/.well-known/security.txt",
        "Preferred-Languages: en",
    ]
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def security_page(request):
    return render(request, "operations/security.html", {"contacts": _contacts(), "shop_name": settings.SHOP_NAME})
