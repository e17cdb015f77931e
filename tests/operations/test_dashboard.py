"""The security dashboard: figures from constant-query selectors, SVG charts, tables, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.core import audit
from shop.operations import selectors
from shop.operations.models import DailyCounter, Incident
from shop.operations.services import counters
from tests.authenticator import Authenticator
from tests.authenticator import register as register_passkey
from tests.factories import UserFactory


def _activity(days_back: int):
    """Some sign-in events and a counter on each of the last days."""
    for offset in range(days_back):
        for action in ("login.succeeded", "login.failed"):
            audit.record(action, data={"n": offset})
        counters.bump(name=counters.CHALLENGE_SERVED, by=3, day=timezone.localdate() - timedelta(days=offset))


@pytest.mark.parametrize("figure", list(selectors.FIGURES))
def test_each_figure_takes_the_same_number_of_queries_for_30_and_90_days(db, figure):
    build = selectors.FIGURES[figure]
    _activity(5)
    counts = []
    for days in (30, 90):
        with CaptureQueriesContext(connection) as queries:
            result = build(selectors.period_days(days))
        counts.append(len(queries))
        assert all(len(values) == len(result.days) for values in result.series.values())
    assert counts[0] == counts[1] <= 4, counts


def test_sign_ins_are_counted_per_day(db):
    for action in ("login.succeeded", "login.succeeded", "login.failed", "login.locked_out"):
        audit.record(action)
    figure = selectors.sign_ins(selectors.period_days(30))
    assert figure.series["Sign-ins"][-1] == 2
    assert figure.series["Failed sign-ins"][-1] == 1
    assert figure.series["Lockouts"][-1] == 1
    assert len(figure.days) == 30 and figure.days[-1] == timezone.localdate()


def test_staff_below_100_percent_mfa_is_an_alert(db):
    shopper, staff_with, staff_without = UserFactory(), UserFactory(is_staff=True), UserFactory(is_staff=True)
    TOTPDevice.objects.create(user=staff_with, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=shopper, name="phone", confirmed=False)
    figure = selectors.mfa_adoption(selectors.period_days(30))
    assert figure.series == {
        "Shoppers with MFA (%)": [0],
        "Staff with MFA (%)": [50],
        "Shoppers with a passkey (%)": [0],
    }
    assert figure.alerts == ["1 member(s) of staff without a second factor: staff must be at 100 %."]
    register_passkey(staff_without, Authenticator())  # a passkey is a second factor too
    assert selectors.mfa_adoption(selectors.period_days(30)).alerts == []


def test_breaches_show_whether_they_were_notified_within_72_hours(db):
    now = timezone.now()
    common = {"category": "other", "severity": "high", "description": "-", "detected_at": now - timedelta(days=9)}
    Incident.objects.create(
        reference="INC-A", title="a", is_breach=True, became_aware_at=now - timedelta(days=8),
        authority_notified_at=now - timedelta(days=7), **common,
    )  # fmt: skip
    Incident.objects.create(
        reference="INC-B", title="b", is_breach=True, became_aware_at=now - timedelta(days=5), **common
    )
    figure = selectors.integrity(selectors.period_days(30))
    clocks = {breach.reference: clock["state"] for breach, clock in figure.breaches}
    assert clocks == {"INC-A": "done", "INC-B": "overdue"}
    assert any("INC-B" in alert for alert in figure.alerts)
    assert ("Incidents open", "2") in figure.facts


def test_the_dashboard_page_for_a_manager(client, verified_login, manager):
    verified_login(client, manager)
    response = client.get(reverse("admin:operations_dashboard") + "?days=90")
    assert response.status_code == 200
    html = response.content.decode()
    for figure in selectors.FIGURES:
        assert f'src="/admin/operations/incident/dashboard/chart/{figure}.svg?days=90"' in html
    assert '<th scope="col">Failed sign-ins</th>' in html
    assert 'aria-current="page">90 days' in html
    assert "Fraud figures from the risk engine are not on this page yet." in html
    assert "no-store" in response["Cache-Control"]


def test_a_bad_period_falls_back_to_30_days(client, verified_login, manager):
    verified_login(client, manager)
    response = client.get(
        reverse("admin:operations_dashboard") + "?days=7x"
    )  # (a NUL byte is refused earlier: a 400 from the middleware)
    assert response.status_code == 200
    assert 'aria-current="page">30 days' in response.content.decode()


def test_charts_are_svg_without_style_or_script(client, verified_login, manager):
    verified_login(client, manager)
    audit.record("login.failed")
    for figure in selectors.FIGURES:
        response = client.get(reverse("admin:operations_dashboard_chart", args=[figure]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
        body = response.content.decode()
        assert body.startswith("<svg") and body.endswith("</svg>")
        assert "<style" not in body and "<script" not in body and "style=" not in body
    assert client.get("/admin/operations/incident/dashboard/chart/nope.svg").status_code == 404


def test_the_csv_has_every_series_per_day(client, verified_login, manager):
    verified_login(client, manager)
    audit.record("login.succeeded")
    response = client.get(reverse("admin:operations_dashboard_csv") + "?days=30")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="security-dashboard-30-days-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["figure", "series", "day", "value"]
    today = timezone.localdate().isoformat()
    assert ["sign-ins", "Sign-ins", today, "1"] in rows
    assert len([r for r in rows if r[:2] == ["sign-ins", "Sign-ins"]]) == 30


def test_clerks_and_shoppers_do_not_see_the_dashboard(client, verified_login, db):
    from django.contrib.auth.models import Group

    from shop.accounts.roles import CLERK

    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=CLERK))
    verified_login(client, clerk)
    assert client.get(reverse("admin:operations_dashboard")).status_code == 403
    assert client.get(reverse("admin:operations_dashboard_csv")).status_code == 403
    client.logout()
    client.force_login(UserFactory())
    assert client.get(reverse("admin:operations_dashboard")).status_code == 302


def test_proof_of_work_challenges_served_are_counted(client, db):
    client.get(reverse("accounts:signup"))
    assert DailyCounter.objects.get(name=counters.CHALLENGE_SERVED).count == 1


def test_csp_reports_are_counted(client, db):
    client.post(
        "/csp-report/", b'{"csp-report": {"violated-directive": "img-src"}}', content_type="application/csp-report"
    )
    assert DailyCounter.objects.get(name=counters.CSP_REPORTED).count == 1


def test_counters_add_up_under_repeated_bumps(db):
    for _ in range(3):
        counters.bump(name="x")
    assert DailyCounter.objects.get(name="x").count == 3


def test_seed_activity_fills_every_figure_and_keeps_the_audit_chain_intact(db):
    from django.core.management import call_command

    call_command("seed_demo", "--activity", stdout=io.StringIO())
    period = selectors.period_days(30)
    for name in ("sign-ins", "challenges", "payments", "privacy", "integrity"):
        figure = selectors.FIGURES[name](period)
        assert any(sum(values) for values in figure.series.values()), name
    assert selectors.refunds(selectors.period_days(90)).totals["Refunds"] > 0
    checked, broken = audit.verify()
    assert broken is None and checked > 300
    out = io.StringIO()
    call_command("seed_activity", stdout=out)
    assert "already there" in out.getvalue()
