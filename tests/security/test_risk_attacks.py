"""The risk engine from the attacker's side, over HTTP.

- A blocked checkout or payment reads the same whichever signal fired, and a risk block at the
  pay page is indistinguishable from a bank's decline.
- A held order cannot be handed over, even by a clerk posting the hand-over with a valid ticket,
  and paying it again does not lift the hold.
"""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.orders import desk, pickup
from shop.orders.models import Order
from shop.payments.models import Payment
from shop.risk import services as risk
from shop.risk.device import COOKIE
from shop.risk.models import RiskAssessment
from tests.factories import StockFactory, UserFactory
from tests.payments.test_sandbox import DELIVERY, pay, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    return StockFactory(product__price_minor=2500, product__slug="teapot", store__name="Mitte", quantity=20)


def _error_text(response) -> str:
    """The text of the page's error summary and error lists: what the attacker reads."""
    found = re.findall(r'(?:role="alert"|class="errorlist[^"]*")[^>]*>(.*?)</(?:div|ul)>', response.text, re.S)
    return " ".join(re.sub(r"<[^>]+>|\s+", " ", text).strip() for text in found)


def _checkout(client, stock, email):
    client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": 1})
    return client.post(reverse("orders:checkout"), {"email": email, **DELIVERY})


def test_two_attackers_blocked_by_different_signals_get_the_same_answer(stock):
    risk.add_list_entry(
        kind="email", verdict="block", value="mallory@example.com", reason="dispute", days=30, actor=None
    )
    risk.add_list_entry(
        kind="device", verdict="block", value="mallory-laptop-0001", reason="dispute", days=30, actor=None
    )
    by_email, by_device = Client(), Client()
    by_device.cookies[COOKIE] = "mallory-laptop-0001"

    first = _checkout(by_email, stock, "mallory@example.com")
    second = _checkout(by_device, stock, "innocent.name@example.com")

    assert first.status_code == second.status_code == 409
    assert _error_text(first) == _error_text(second)
    assert "We could not accept this order." in first.text
    for response in (first, second):
        for word in ("block", "list", "device", "e-mail address is", "score", "risk"):
            assert word not in _error_text(response).lower()
    assert not Order.objects.exists()


def test_a_risk_block_at_the_pay_page_looks_exactly_like_a_bank_decline(stock):
    attacker, unlucky = Client(), Client()
    attacker.cookies[COOKIE] = "stolen-cards-rig-01"
    blocked_order = place_order(attacker, stock, email="a.buyer@example.com")
    declined_order = place_order(unlucky, stock, email="b.buyer@example.com")
    risk.add_list_entry(
        kind="device", verdict="block", value="stolen-cards-rig-01", reason="testing", days=30, actor=None
    )

    blocked = pay(attacker, blocked_order, "4242424242424242")
    declined = pay(unlucky, declined_order, "4000000000000002")

    assert blocked.status_code == declined.status_code == 402
    assert _error_text(blocked) == _error_text(declined) != ""
    assert Payment.objects.get(order=blocked_order).status == Payment.Status.DECLINED
    assert RiskAssessment.objects.filter(order_id=blocked_order.pk, action="block").exists()


@pytest.fixture
def everything_held(settings):
    settings.RISK_REVIEW_FROM = 0
    settings.RISK_BLOCK_FROM = 101


def test_a_held_pickup_order_cannot_be_handed_over_by_posting_the_desk_directly(
    stock,
    everything_held,
    verified_login,
    django_capture_on_commit_callbacks,
):
    shopper = Client()
    order = place_order(shopper, stock, pickup=True)
    assert pay(shopper, order, "4242424242424242").status_code == 302  # authorized
    manager = UserFactory(is_staff=True)
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    stock.store.staff.add(manager)
    with django_capture_on_commit_callbacks(execute=True):
        pickup.mark_ready(order=Order.objects.get(pk=order.pk), actor=manager)
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    stock.store.staff.add(clerk)
    counter = Client()
    verified_login(counter, clerk)

    ticket = desk.issue_ticket(order_id=order.pk, user=clerk)
    response = counter.post("/admin/pickup-desk/", {"action": "hand_over", "order_id": order.pk, "ticket": ticket})

    assert response.status_code == 409
    assert "held for a fraud review" in response.text
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    assert Payment.objects.get(order=order).status == Payment.Status.AUTHORIZED  # nothing captured


def test_paying_a_held_delivery_order_only_authorizes_it_and_keeps_the_hold(stock, everything_held):
    shopper = Client()
    order = place_order(shopper, stock)

    assert pay(shopper, order, "4242424242424242").status_code in (302, 200)

    from shop.risk import selectors

    assert selectors.is_held(order_id=order.pk)
    payment = Payment.objects.get(order=order)
    assert payment.status in (Payment.Status.AUTHORIZED, Payment.Status.REQUIRES_ACTION)
    assert payment.captured_minor == 0
