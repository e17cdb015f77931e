"""Unpaid orders: the payment window, expiry by the beat task, the shopper's own cancel, and money
that arrives after the order closed (reversed automatically). Against the fake gateway."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from shop.catalog.models import Stock
from shop.core.models import AuditEvent
from shop.orders import lifecycle, services, signals, tasks
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.gateways import base
from shop.payments.models import Payment
from tests.factories import UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def _past_due(order, minutes=1):
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(minutes=minutes))


def _stock(order):
    return Stock.objects.get(store=order.store, product_id=order.lines.get().product_id).quantity


def _three_d_secure_payment(order, fake_gateway, monkeypatch):
    """A payment left waiting in 3-D Secure (the shopper never came back from the bank's page)."""
    monkeypatch.setattr(
        fake_gateway,
        "charge",
        lambda request: base.ChargeResult(status=base.REQUIRES_ACTION, reference="ch_3ds", action_url="/bank/"),
    )
    payment = payments.pay_order(order=order, token="tok_3ds", idempotency_key="k-3ds", return_url="/r/")
    assert payment.status == Payment.Status.REQUIRES_ACTION
    return payment


def test_a_placed_order_is_reserved_for_the_payment_window(settings):
    settings.SHOP_PAYMENT_WINDOW_MINUTES = 30
    before = timezone.now()
    order = order_awaiting_payment()
    assert before + timedelta(minutes=30) <= order.payment_due_at <= timezone.now() + timedelta(minutes=30)


def test_expiry_gives_the_units_back_audits_and_mails_no_typed_address(django_capture_on_commit_callbacks):
    order = order_awaiting_payment(quantity=2)
    held = _stock(order)
    fresh = order_awaiting_payment()
    _past_due(order)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_unpaid_orders() == 1

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and order.closed_at is not None
    assert _stock(order) == held + 2
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.AWAITING_PAYMENT  # not due yet
    event = AuditEvent.objects.get(action="order.expired")  # one event per batch, naming each order
    assert event.data["order_ids"] == [order.pk] and event.data["units"] == 2
    assert mail.outbox == []  # a guest's typed address hears nothing about an order never paid
    assert order.placed_session_digest == order.placed_address_digest == ""


def test_expiry_runs_twice_safely():
    order = order_awaiting_payment()
    held = _stock(order)
    _past_due(order)
    assert lifecycle.expire_unpaid() == 1
    assert lifecycle.expire_unpaid() == 0
    assert _stock(order) == held + 1


def test_a_signed_in_shoppers_expired_order_is_mailed_to_their_account(django_capture_on_commit_callbacks):
    user = UserFactory(email="owner@example.com")
    order = order_awaiting_payment(user=user, email="typed@example.com")
    _past_due(order)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.expire_unpaid()
    [message] = mail.outbox
    assert message.to == ["owner@example.com"] and "expired" in message.subject and order.number in message.body


def test_a_payment_left_in_3d_secure_is_voided_when_the_order_expires(fake_gateway, monkeypatch):
    order = order_awaiting_payment()
    payment = _three_d_secure_payment(order, fake_gateway, monkeypatch)
    _past_due(order)

    assert lifecycle.expire_unpaid() == 1

    payment.refresh_from_db()
    assert payment.status == Payment.Status.VOIDED
    assert fake_gateway.count("void") == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED


def test_a_3d_secure_check_finished_just_before_expiry_pays_the_order(fake_gateway, monkeypatch):
    """The gateway cannot void because the shopper completed the check: that payment counts."""
    order = order_awaiting_payment()
    _three_d_secure_payment(order, fake_gateway, monkeypatch)
    _past_due(order)
    held = _stock(order)

    def refuse_void(**kwargs):
        raise base.GatewayError("A captured charge cannot be voided.")

    monkeypatch.setattr(fake_gateway, "void", refuse_void)

    assert lifecycle.expire_unpaid() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert _stock(order) == held


def test_money_confirmed_after_expiry_is_refunded_and_logged(fake_gateway, monkeypatch, caplog):
    order = order_awaiting_payment()
    payment = _three_d_secure_payment(order, fake_gateway, monkeypatch)
    _past_due(order)

    def unreachable(**kwargs):
        raise base.GatewayError("timeout")

    monkeypatch.setattr(fake_gateway, "void", unreachable)
    monkeypatch.setattr(fake_gateway, "confirm_action", unreachable)
    assert lifecycle.expire_unpaid() == 1  # the provider is down: the order expires all the same
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REQUIRES_ACTION

    # Later the shopper's 3-D Secure return reaches the shop: the bank captured the money.
    monkeypatch.setattr(
        fake_gateway, "confirm_action", lambda reference: base.ChargeResult(status=base.CAPTURED, reference=reference)
    )
    payment = payments.complete_action(payment=payment)

    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED  # never paid
    assert payment.status == Payment.Status.REFUNDED and payment.refunded_minor == order.total_minor
    assert fake_gateway.count("refund") == 1
    assert AuditEvent.objects.filter(action="payment.late_reversed", subject_id=str(payment.pk)).exists()
    assert "automatically" in caplog.text


def test_a_late_authorization_for_a_cancelled_order_is_voided(fake_gateway, monkeypatch):
    order = order_awaiting_payment(fulfillment="pickup")
    payment = _three_d_secure_payment(order, fake_gateway, monkeypatch)
    monkeypatch.setattr(fake_gateway, "void", lambda **kw: (_ for _ in ()).throw(base.GatewayError("down")))
    monkeypatch.setattr(fake_gateway, "confirm_action", lambda **kw: (_ for _ in ()).throw(base.GatewayError("down")))
    lifecycle.cancel_unpaid_order(order=order)

    monkeypatch.setattr(
        fake_gateway, "confirm_action", lambda reference: base.ChargeResult(status=base.AUTHORIZED, reference=reference)
    )
    monkeypatch.setattr(
        fake_gateway,
        "void",
        lambda reference, idempotency_key: base.ChargeResult(status=base.VOIDED, reference=reference),
    )
    payment = payments.complete_action(payment=payment)

    assert payment.status == Payment.Status.VOIDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


def test_no_new_payment_starts_after_the_window(fake_gateway):
    order = order_awaiting_payment()
    _past_due(order)
    with pytest.raises(payments.PaymentError, match="time to pay"):
        payments.pay_order(order=order, token="tok_ok", idempotency_key="late", return_url="/r/")
    assert fake_gateway.count("charge") == 0


def test_the_shopper_cancels_their_unpaid_order(django_capture_on_commit_callbacks):
    order = order_awaiting_payment(quantity=3)
    held = _stock(order)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel_unpaid_order(order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and _stock(order) == held + 3
    assert AuditEvent.objects.get(action="order.cancelled").data["reason"] == "cancelled by the shopper"


def test_a_paid_order_cannot_be_cancelled_by_the_shopper(fake_gateway):
    order = order_awaiting_payment()
    payments.pay_order(order=order, token="tok_ok", idempotency_key="k", return_url="/r/")
    with pytest.raises(services.IllegalTransition, match="only an unpaid order"):
        lifecycle.cancel_unpaid_order(order=order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_closing_an_order_sends_order_closed_after_commit(django_capture_on_commit_callbacks):
    user = UserFactory()
    order = order_awaiting_payment(user=user)
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    signals.order_closed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            lifecycle.cancel_unpaid_order(order=order)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        signals.order_closed.disconnect(listener)
    assert {"order_id": order.pk, "user_id": user.pk, "status": Order.Status.CANCELLED}.items() <= received[0].items()
