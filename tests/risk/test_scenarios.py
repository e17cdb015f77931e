"""Each fraud scenario's characteristic order, from the attacker's side: challenged, held or blocked.
And the everyday shopper's order: allowed, untouched."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop.core import audit
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments.models import Payment
from shop.risk import selectors
from shop.risk.interface import NEUTRAL_ORDER_REFUSAL, Client
from shop.risk.models import Review, RiskAssessment
from tests.factories import UserFactory

from .conftest import pay

pytestmark = pytest.mark.django_db


def latest(order):
    return RiskAssessment.objects.filter(order_id=order.pk).order_by("-pk").first()


def test_an_ordinary_guest_order_is_allowed_and_charged_without_a_challenge(checkout, gateway):
    order = checkout()

    payment = pay(order)

    assert latest(order).action == "allow"
    assert payment.status == Payment.Status.CAPTURED
    assert gateway.calls[-1][1]["three_d_secure"] is False
    assert not selectors.is_held(order_id=order.pk)


def test_card_testing_is_held_after_three_cards_and_blocked_after_five(checkout, gateway):
    tester = Client(session_key="s-tester", address="203.0.113.9", device_id="device-tester-0001")
    order = checkout(client=tester, email="x7k2q9@example.com")
    for card in range(3):
        assert pay(order, token=f"tok_decline:stolen{card}", client=tester).status == Payment.Status.DECLINED

    pay(order, token="tok_decline:stolen3", client=tester)
    assert latest(order).action == "review"
    assert gateway.calls[-1][1]["capture"] is False  # held: at most authorized until a reviewer decides

    pay(order, token="tok_decline:stolen4", client=tester)
    charges = gateway.count("charge")
    blocked = pay(order, token="tok_ok:stolen5", client=tester)

    assert latest(order).action == "block"
    assert blocked.status == Payment.Status.DECLINED
    assert gateway.count("charge") == charges  # the card never reached the provider
    assert "many_cards" in {reason["code"] for reason in latest(order).reasons}


def test_a_stolen_card_on_a_brand_new_account_buying_resale_goods_is_challenged(checkout, gateway):
    thief = UserFactory(email_verified_at=None)
    order = checkout(user=thief, email=thief.email, category="electronics", price_minor=45000, quantity=2)

    pay(order, user=thief)

    assessment = latest(order)
    assert assessment.action == "challenge"
    assert gateway.calls[-1][1]["three_d_secure"] is True  # the bank is asked to challenge the shopper
    codes = {reason["code"] for reason in assessment.reasons}
    assert {"new_account", "resale_goods"} <= codes


def test_account_takeover_with_a_new_address_and_a_big_order_is_held(checkout, gateway, store):
    owner = UserFactory(date_joined=timezone.now() - timedelta(days=700))
    for week in range(3):  # earlier weeks, from the owner's own laptop sessions
        home = Client(session_key=f"s-home-{week}", address="198.51.100.20", device_id=f"device-home-{week:08d}")
        pay(checkout(user=owner, email=owner.email, price_minor=3000, client=home), user=owner, client=home)
    audit.record("password.changed", actor=owner, subject=owner, data={})
    new_place = orders.ShippingAddress(
        name="A. Lovelace", street="Hafenstr. 99", postal_code="20457", city="Hamburg", country="DE"
    )

    order = checkout(user=owner, email=owner.email, price_minor=48000, shipping=new_place)
    payment = pay(order, user=owner)

    codes = {reason["code"] for reason in latest(order).reasons}
    assert {"credential_change", "new_shipping_address", "above_history"} <= codes
    assert selectors.is_held(order_id=order.pk)
    assert payment.status == Payment.Status.AUTHORIZED  # held: authorized, not captured
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_pickup_mule_collecting_high_value_orders_is_held_by_the_third(checkout, gateway):
    mule = Client(session_key="s-mule", address="192.0.2.44", device_id="device-mule-000001")
    orders_placed = [
        checkout(client=mule, email=f"mule.{n}@example.com", fulfillment="pickup", price_minor=32000) for n in range(3)
    ]

    assert latest(orders_placed[0]).action in ("allow", "challenge")
    assert Review.objects.filter(order_id=orders_placed[2].pk, status=Review.Status.PENDING).exists()


def test_a_reseller_bot_buying_out_one_product_is_held(checkout, gateway):
    order = checkout(email="deals@example.com", quantity=20, price_minor=9000, category="electronics")

    assert latest(order).action == "review"
    assert {"buyout", "resale_goods"} <= {reason["code"] for reason in latest(order).reasons}
    assert selectors.is_held(order_id=order.pk)


def test_a_disposable_address_on_the_block_list_is_refused_with_the_neutral_words(checkout, gateway):
    from shop.risk import services

    services.add_list_entry(
        kind="email", verdict="block", value="fraud+tag@Mailinator.com", reason="chargebacks", days=30, actor=None
    )

    with pytest.raises(orders.OrderError) as refused:
        checkout(email="fraud@mailinator.com")

    assert str(refused.value) == NEUTRAL_ORDER_REFUSAL
    assert not Order.objects.exists()


def test_an_allow_listed_customer_is_not_held(checkout, gateway):
    from shop.risk import services

    services.add_list_entry(
        kind="email", verdict="allow", value="bulk.buyer@example.com", reason="school", days=30, actor=None
    )
    order = checkout(email="bulk.buyer@example.com", quantity=20, price_minor=9000, category="electronics")

    assert latest(order).action == "allow"
    assert not selectors.is_held(order_id=order.pk)
