"""The security dashboard (HTTP only): the page, one SVG per figure, and the CSV of every number."""

import csv

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse

from shop.core import audit

from . import charts, selectors

PERMISSION = "operations.view_security_dashboard"


def can_view(user) -> bool:
    return user.is_active and user.is_staff and user.has_perm(PERMISSION)


def _period(request) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    return days if days in selectors.PERIODS else 30


# The page and its seven chart images ask for the same figures within a second: each figure is
# computed once and kept a minute (numbers only, no personal data, the same for every viewer).
FIGURE_CACHE_SECONDS = 60


def _figure(key: str, period) -> selectors.Figure:
    name = f"operations:figure:{key}:{len(period)}:{period[-1].isoformat()}"
    return cache.get_or_set(name, lambda: selectors.FIGURES[key](period), FIGURE_CACHE_SECONDS)


def _require(request):
    if not can_view(request.user):
        raise PermissionDenied


def dashboard(request, *, site, opts):
    _require(request)
    days = _period(request)
    period = selectors.period_days(days)
    figures = [_figure(key, period) for key in selectors.FIGURES]
    audit.record("operations.dashboard_viewed", actor=request.user, data={"days": days})
    context = {
        **site.each_context(request),
        "opts": opts,
        "title": "Security dashboard",
        "days": days,
        "periods": selectors.PERIODS,
        "figures": figures,
        "alerts": [alert for figure in figures for alert in figure.alerts],
    }
    response = TemplateResponse(request, "admin/operations/dashboard.html", context)
    response["Cache-Control"] = "no-store"
    return response


def chart(request, *, figure: str):
    _require(request)
    if figure not in selectors.FIGURES:
        raise Http404("No such figure.")
    svg = charts.render(_figure(figure, selectors.period_days(_period(request))))
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


def csv_export(request):
    _require(request)
    days = _period(request)
    period = selectors.period_days(days)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="security-dashboard-{days}-days-{period[-1]}.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(["figure", "series", "day", "value"])
    for key in selectors.FIGURES:
        figure = _figure(key, period)
        for name, values in figure.series.items():
            for day, value in zip(figure.days, values, strict=True):
                writer.writerow([figure.key, name, day.isoformat(), value])
        for label, text in figure.facts:
            writer.writerow([figure.key, label, period[-1].isoformat(), text])
    audit.record("operations.dashboard_exported", actor=request.user, data={"days": days})
    return response
