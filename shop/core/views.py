import json
import logging

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("shop.csp")

_MAX_REPORT_BYTES = 16 * 1024


@csrf_exempt  # Browsers post CSP reports without cookies or tokens; the view only logs, it changes nothing.
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
    logger.warning(
        "CSP violation: %s blocked %s on %s",
        _loggable(body.get("violated-directive") or body.get("effective-directive")),
        _loggable(body.get("blocked-uri")),
        _loggable(body.get("document-uri")),
    )
    return HttpResponse(status=204)


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
