import hashlib
import json
import logging
import re
from contextlib import suppress
from urllib.parse import urlsplit

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import audit
from .signals import csp_violation_reported

logger = logging.getLogger("shop.csp")

_MAX_REPORT_BYTES = 16 * 1024


# Browsers post CSP reports without cookies or tokens, so there is nothing to check CSRF against.
# Anyone can post one: the view only logs, and records an audit event for payment pages at most
# once an hour per violation (capped per hour), so forged reports cannot flood the log.
@csrf_exempt
@require_POST
def csp_report(request):
    """Log Content-Security-Policy violations the browsers report (`report-uri /csp-report/`)."""
    if len(request.body) > _MAX_REPORT_BYTES:
        return HttpResponseBadRequest("Report too large.")
    try:
        report = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested deeper than the parser goes
        return HttpResponseBadRequest("A CSP report must be JSON.")
    body = report.get("csp-report", report) if isinstance(report, dict) else {}
    if not isinstance(body, dict):
        return HttpResponseBadRequest("A CSP report must be a JSON object.")
    # The log keeps the directive, what was blocked (its host or the browser's keyword) and the
    # page's path: never a full URL, whose query string can carry a search, a token or an address.
    csp_violation_reported.send(csp_report)
    logger.warning(
        "CSP violation: %s blocked %s on %s",
        _loggable(str(body.get("violated-directive") or body.get("effective-directive") or "").split(" ")[0]),
        _loggable(_blocked_host(body)),
        _loggable(_page_path(body)),
    )
    with suppress(ValueError):  # a URL urlsplit cannot parse ("http://[x"): logged above, nothing to audit
        _audit_payment_page_violation(body)
    return HttpResponse(status=204)


# Checkout, the payment page (and its 3-D Secure return), and the sandbox gateway's card fields.
_PAYMENT_PAGE = re.compile(r"^/(checkout/|payments/|orders/[^/]+/pay/|sandbox-gateway/)")
_AUDITED_PER_HOUR = 200


def _audit_payment_page_violation(body: dict) -> None:
    """A violation on a checkout or payment page is a security event (PCI DSS 11.6.1): audit it.

    Anyone can post reports, so only the directive, the blocked host and the page path are kept
    (no query string, no full URL), the same violation is recorded once an hour, and at most
    _AUDITED_PER_HOUR a hour in all, so a flood cannot fill the audit log.
    """
    page = _page_path(body)
    if not _PAYMENT_PAGE.match(page):
        return
    directive = str(body.get("effective-directive") or body.get("violated-directive") or "")[:100]
    data = {"directive": directive.split(" ")[0], "blocked": _blocked_host(body), "page": page[:200]}
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    if not cache.add(f"csp-audit:{fingerprint}", 1, timeout=3600):
        return
    cache.add("csp-audit:count", 0, timeout=3600)
    try:
        if cache.incr("csp-audit:count") > _AUDITED_PER_HOUR:
            return
    except ValueError:  # the counter expired between add and incr
        cache.set("csp-audit:count", 1, timeout=3600)
    audit.record("csp.violation", data=data)


def _page_path(body: dict) -> str:
    try:
        return urlsplit(str(body.get("document-uri") or body.get("documentURL") or "")[:2000]).path[:200]
    except ValueError:  # "http://[x": nothing to keep
        return "?"


def _blocked_host(body: dict) -> str:
    """The host of what was blocked, or the browser's keyword for it (inline, eval, data, ...)."""
    blocked = str(body.get("blocked-uri") or body.get("blockedURL") or "")[:2000]
    try:
        parts = urlsplit(blocked)
    except ValueError:  # "http://[x": not a URL, keep nothing of it
        return "?"
    if parts.hostname:
        return parts.hostname[:200]
    return (parts.scheme or blocked)[:40]


def _loggable(value) -> str:
    """Anyone can post a report: escape line breaks and control characters so it cannot forge log lines."""
    text = str(value)[:200]
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def csrf_failure(request, reason=""):
    """A 403 a person understands (an expired form, blocked cookies) instead of Django's debug page."""
    return render(request, "403_csrf.html", status=403)


def healthz(request):
    """For the load balancer: the process answers. Says nothing about the shop."""
    return HttpResponse("ok", content_type="text/plain")
