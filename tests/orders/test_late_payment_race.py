"""The late-payment race, both sides at once on PostgreSQL: the expiry job against the shopper's
3-D Secure return, and against the provider's webhook, with the real sandbox gateway.

Whatever wins the order's row lock, the end is consistent: either the order is paid by money the
shop keeps, or it is expired with its units back and the money given back. Never "expired" with
money kept, and never "paid" with the units returned."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop.catalog.models import Stock
from shop.orders import lifecycle
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.gateways import get_gateway
from shop.payments.gateways.sandbox import gateway as sandbox
from shop.payments.gateways.sandbox.models import SandboxToken
from shop.payments.models import Payment
from tests.concurrency import run_at_once
from tests.payments.fakes import order_awaiting_payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _order_in_3ds_completed_at_the_bank(*, pickup=False):
    order = order_awaiting_payment(fulfillment="pickup" if pickup else "delivery")
    token = SandboxToken.objects.create(
        outcome="requires_3ds", brand="visa", last4="3220", exp_month=1, exp_year=2040, fingerprint="f" * 64
    )
    payment = payments.pay_order(
        order=order, token=token.token, idempotency_key=payments.new_idempotency_key(), return_url="/r/"
    )
    assert payment.status == Payment.Status.REQUIRES_ACTION
    sandbox.authenticate(reference=payment.reference, succeeded=True)  # the shopper passed the check
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(seconds=1))
    return order, payment


def _units(order):
    return Stock.objects.get(store=order.store, product_id=order.lines.get().product_id).quantity


def _assert_consistent(order, payment, units_before):
    order.refresh_from_db()
    payment.refresh_from_db()
    if order.status == Order.Status.PAID:
        assert payment.status in (Payment.Status.CAPTURED, Payment.Status.AUTHORIZED)
        assert payment.refunded_minor == 0
        assert _units(order) == units_before
    else:
        assert order.status == Order.Status.EXPIRED
        assert payment.status in (Payment.Status.REFUNDED, Payment.Status.VOIDED, Payment.Status.REQUIRES_ACTION)
        if payment.captured_minor:
            assert payment.refunded_minor == payment.captured_minor
        assert _units(order) == units_before + 1
    return order.status


@pytest.mark.parametrize("pickup", [False, True])
def test_expiry_against_the_3d_secure_return_never_keeps_money_for_an_expired_order(pickup):
    outcomes = set()
    for _ in range(3):
        order, payment = _order_in_3ds_completed_at_the_bank(pickup=pickup)
        before = _units(order)
        results = run_at_once([lifecycle.expire_unpaid, lambda p=payment: payments.complete_action(payment=p)])
        assert not any(isinstance(r, Exception) for r in results), results
        outcomes.add(_assert_consistent(order, payment, before))
    assert outcomes  # each run ended in one of the two consistent states


def test_expiry_against_a_captured_webhook_never_keeps_money_for_an_expired_order(settings):
    settings.SANDBOX_WEBHOOK_SECRET = "whsec-test"
    for number in range(3):
        order, payment = _order_in_3ds_completed_at_the_bank()
        before = _units(order)
        body, signature = sandbox.sign_event(
            {"id": f"evt_{number}", "type": "payment.captured", "reference": payment.reference}
        )
        event = get_gateway("sandbox").parse_webhook(body=body, headers={sandbox.SIGNATURE_HEADER: signature})
        results = run_at_once(
            [lifecycle.expire_unpaid, lambda e=event: payments.process_webhook(gateway_name="sandbox", event=e)]
        )
        assert not any(isinstance(r, Exception) for r in results), results
        _assert_consistent(order, payment, before)


def test_a_3d_secure_return_after_expiry_is_refunded_not_paid():
    """Sequential, on PostgreSQL: the job wins (the provider refused the void and could not be
    asked), the shopper comes back afterwards."""
    order, payment = _order_in_3ds_completed_at_the_bank()
    before = _units(order)
    # The job's view of the world: a void the sandbox refuses, and the charge still looked open.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            sandbox.SandboxGateway,
            "confirm_action",
            lambda self, reference: (_ for _ in ()).throw(sandbox.base.GatewayError("timeout")),
        )
        assert lifecycle.expire_unpaid() == 1
    payment = payments.complete_action(payment=Payment.objects.get(pk=payment.pk))
    assert _assert_consistent(order, payment, before) == Order.Status.EXPIRED
    assert payment.status == Payment.Status.REFUNDED


def test_two_beat_nodes_expiring_at_once_expire_each_order_once():
    orders = [order_awaiting_payment() for _ in range(6)]
    Order.objects.update(payment_due_at=timezone.now() - timedelta(minutes=1))
    before = {o.pk: _units(o) for o in orders}

    results = run_at_once([lifecycle.expire_unpaid, lifecycle.expire_unpaid])

    assert sum(results) == 6, results
    assert all(_units(o) == before[o.pk] + 1 for o in orders)
    assert Order.objects.filter(status=Order.Status.EXPIRED).count() == 6
