"""Payment page integrity (PCI DSS 6.4.3, 11.6.1): CSP violations on checkout and payment pages
are security events in the audit log, where a Shop manager can read them."""

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.core import views as core_views
from shop.core.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def report(document_uri, *, blocked="https://evil.example/skimmer.js?card=1", directive="script-src-elem"):
    body = {"csp-report": {"document-uri": document_uri, "violated-directive": directive, "blocked-uri": blocked}}
    return Client(enforce_csrf_checks=True).post(
        "/csp-report/", data=json.dumps(body), content_type="application/csp-report"
    )


def violations():
    return list(AuditEvent.objects.filter(action="csp.violation").order_by("seq"))


@pytest.mark.parametrize(
    "page",
    [
        "/checkout/",
        "/orders/ABCDE-FGHJK/pay/",
        "/orders/ABCDE-FGHJK/pay/return/some-key/",
        "/sandbox-gateway/fields/",
    ],
)
def test_a_violation_on_a_payment_page_is_audited_with_host_and_path_only(page):
    response = report(f"https://shop.example.com{page}?session=abc#frag")

    assert response.status_code == 204
    (event,) = violations()
    assert event.data == {"directive": "script-src-elem", "blocked": "evil.example", "page": page}
    assert event.actor_id is None


@pytest.mark.parametrize("page", ["/", "/products/", "/account/", "/orders/ABCDE-FGHJK/"])
def test_a_violation_elsewhere_is_only_logged(page):
    assert report(f"https://shop.example.com{page}").status_code == 204
    assert violations() == []


def test_an_inline_script_is_recorded_by_its_keyword():
    report("https://shop.example.com/checkout/", blocked="inline", directive="script-src-elem")

    assert violations()[0].data["blocked"] == "inline"


def test_the_same_violation_is_recorded_once_an_hour():
    for _ in range(3):
        report("https://shop.example.com/checkout/")
    report("https://shop.example.com/checkout/", blocked="https://other.example/x.js")

    assert [e.data["blocked"] for e in violations()] == ["evil.example", "other.example"]


def test_a_flood_of_forged_reports_cannot_fill_the_audit_log(monkeypatch):
    monkeypatch.setattr(core_views, "_AUDITED_PER_HOUR", 3)

    for number in range(6):
        assert report("https://shop.example.com/checkout/", blocked=f"https://x{number}.example/").status_code == 204

    assert len(violations()) == 3


def test_a_manager_sees_the_violation_in_the_audit_log(client, verified_login):
    report("https://shop.example.com/orders/ABCDE-FGHJK/pay/")
    manager = UserFactory(is_staff=True)
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    verified_login(client, manager)

    listing = client.get(reverse("admin:core_auditevent_changelist"), {"action": "csp.violation"})
    detail = client.get(reverse("admin:core_auditevent_change", args=[violations()[0].pk]))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert detail.status_code == 200
    assert "evil.example" in detail.content.decode()


@pytest.mark.parametrize(
    ("document_uri", "blocked"),
    [
        ("http://[shop.example.com/checkout/", "https://evil.example/"),
        ("https://shop.example.com/checkout/", "http://[::1"),
    ],
)
def test_a_report_with_an_unparsable_url_is_accepted_not_a_server_error(document_uri, blocked):
    assert report(document_uri, blocked=blocked).status_code == 204
