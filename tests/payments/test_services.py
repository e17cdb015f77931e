"""Payment services against a fake gateway: idempotency, pickup vs delivery, capture and void,
cancelling, and the card-testing defence."""

import pytest

from shop.core.models import AuditEvent
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import services
from shop.payments.gateways import base
from shop.payments.models import Payment, PaymentMethod
from tests.concurrency import run_at_once
from tests.factories import UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


RETURN_URL = "/orders/return/"


def pay(order, *, key="key-1", token="tok_ok", **kwargs):
    return services.pay_order(order=order, token=token, idempotency_key=key, return_url=RETURN_URL, **kwargs)


@pytest.mark.django_db
def test_the_same_key_twice_makes_one_payment_and_one_charge(fake_gateway):
    order = order_awaiting_payment()

    first = pay(order, key="double-click")
    second = pay(order, key="double-click")

    assert first.pk == second.pk
    assert Payment.objects.count() == 1
    assert fake_gateway.count("charge") == 1


@pytest.mark.django_db
def test_a_key_used_for_another_order_is_refused(fake_gateway):
    pay(order_awaiting_payment(), key="used")

    with pytest.raises(services.PaymentError, match="already used"):
        pay(order_awaiting_payment(), key="used")
    assert fake_gateway.count("charge") == 1


@pytest.mark.django_db
def test_a_second_key_after_success_finds_nothing_to_pay(fake_gateway):
    order = order_awaiting_payment()
    pay(order, key="first")

    with pytest.raises(services.PaymentError, match="nothing to pay"):
        pay(order, key="second")
    assert Payment.objects.count() == 1
    assert fake_gateway.count("charge") == 1


@pytest.mark.django_db
def test_a_delivery_order_is_captured_and_paid(fake_gateway):
    order = order_awaiting_payment(fulfillment="delivery")

    payment = pay(order)

    assert payment.status == Payment.Status.CAPTURED
    assert payment.captured_minor == payment.amount_minor == order.total_minor
    assert (payment.card_brand, payment.card_last4) == ("Visa", "4242")
    assert fake_gateway.calls[0][1]["capture"] is True
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


@pytest.mark.django_db
def test_a_pickup_order_is_only_authorized_but_paid(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")

    payment = pay(order)

    assert payment.status == Payment.Status.AUTHORIZED
    assert payment.captured_minor == 0
    assert fake_gateway.calls[0][1]["capture"] is False
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


@pytest.mark.django_db
def test_a_declined_payment_leaves_the_order_awaiting_payment(fake_gateway):
    order = order_awaiting_payment()

    payment = pay(order, token="tok_decline")

    assert payment.status == Payment.Status.DECLINED
    assert payment.decline_code == "generic_decline"
    assert Order.objects.get(pk=order.pk).status == Order.Status.AWAITING_PAYMENT
    # A new attempt (a new key) may try again.
    assert pay(order, key="retry").status == Payment.Status.CAPTURED


@pytest.mark.django_db
def test_capture_for_order_takes_the_authorized_money_once(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")
    pay(order)

    payment = services.capture_for_order(order_id=order.pk)
    again = services.capture_for_order(order_id=order.pk)

    assert payment.status == Payment.Status.CAPTURED
    assert payment.captured_minor == order.total_minor
    assert again.pk == payment.pk
    assert fake_gateway.count("capture") == 1
    assert AuditEvent.objects.filter(action="payment.captured", subject_id=str(payment.pk)).count() == 1


@pytest.mark.django_db
def test_capture_without_an_authorization_is_refused(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")

    with pytest.raises(services.PaymentError, match="no authorized payment"):
        services.capture_for_order(order_id=order.pk)
    assert fake_gateway.count("capture") == 0


@pytest.mark.django_db
def test_void_for_order_releases_the_authorization(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")
    pay(order)

    payment = services.void_for_order(order_id=order.pk)

    assert payment.status == Payment.Status.VOIDED
    assert fake_gateway.count("void") == 1
    assert services.void_for_order(order_id=order.pk) is None  # nothing left to void
    assert fake_gateway.count("void") == 1


@pytest.mark.django_db
def test_a_voided_payment_cannot_be_captured_afterwards(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")
    pay(order)
    services.void_for_order(order_id=order.pk)

    with pytest.raises(services.PaymentError):
        services.capture_for_order(order_id=order.pk)
    assert Payment.objects.get().status == Payment.Status.VOIDED


@pytest.mark.django_db
def test_cancelling_a_paid_pickup_order_voids_its_authorization(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")
    payment = pay(order)

    orders.cancel_order(order=Order.objects.get(pk=order.pk), reason="not collected")

    payment.refresh_from_db()
    assert payment.status == Payment.Status.VOIDED
    assert fake_gateway.count("void") == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


@pytest.mark.django_db
def test_cancelling_an_unpaid_order_calls_no_gateway(fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")

    orders.cancel_order(order=order, reason="changed my mind")

    assert fake_gateway.calls == []


@pytest.mark.django_db
def test_a_saved_card_keeps_only_the_token_and_what_identifies_it(fake_gateway):
    user = UserFactory()
    order = order_awaiting_payment(user=user)

    pay(order, user=user, save_card=True)

    method = PaymentMethod.objects.get(user=user)
    assert method.token.startswith("pm_fake_")
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == ("Visa", "4242", 12, 2030)


@pytest.mark.django_db
def test_no_card_is_saved_for_a_guest(fake_gateway):
    from django.contrib.auth.models import AnonymousUser

    pay(order_awaiting_payment(), user=AnonymousUser(), save_card=True)

    assert fake_gateway.calls[0][0] == "charge"
    assert PaymentMethod.objects.count() == 0


# --- Card-testing defence ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sixth_attempt_after_five_declines_is_refused_and_the_burst_audited(fake_gateway, settings):
    settings.SHOP_DECLINE_LIMIT = 5
    limiter = services.DeclineLimiter(session_key="session-a", user_id=None, address="203.0.113.9")
    order = order_awaiting_payment()

    for attempt in range(5):
        payment = pay(order, key=f"attempt-{attempt}", token="tok_decline", limiter=limiter)
        assert payment.status == Payment.Status.DECLINED

    with pytest.raises(services.TooManyDeclines, match="Too many declined payments"):
        pay(order, key="attempt-6", token="tok_ok", limiter=limiter)

    assert fake_gateway.count("charge") == 5  # the 6th never reached the gateway
    assert Payment.objects.count() == 5
    assert AuditEvent.objects.filter(action="payment.decline_burst").count() == 1


@pytest.mark.django_db
def test_declines_count_per_address_across_sessions(fake_gateway, settings):
    settings.SHOP_DECLINE_LIMIT = 5
    order = order_awaiting_payment()
    for attempt in range(5):
        limiter = services.DeclineLimiter(session_key=f"session-{attempt}", user_id=None, address="203.0.113.9")
        pay(order, key=f"attempt-{attempt}", token="tok_decline", limiter=limiter)

    fresh_session = services.DeclineLimiter(session_key="new-session", user_id=None, address="203.0.113.9")
    other_address = services.DeclineLimiter(session_key="new-session", user_id=None, address="198.51.100.7")

    with pytest.raises(services.TooManyDeclines):
        fresh_session.check()
    other_address.check()  # someone else is not affected


@pytest.mark.django_db
def test_successful_payments_do_not_count_as_declines(fake_gateway, settings):
    settings.SHOP_DECLINE_LIMIT = 2
    limiter = services.DeclineLimiter(session_key="s", user_id=None, address="203.0.113.9")
    for attempt in range(3):
        pay(order_awaiting_payment(), key=f"ok-{attempt}", limiter=limiter)

    assert limiter.count() == 0
    assert not AuditEvent.objects.filter(action="payment.decline_burst").exists()


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_with_the_same_key_make_one_payment_and_one_charge(fake_gateway):
    order = order_awaiting_payment()

    results = run_at_once([lambda: pay(order, key="same-form")] * 6)

    payments = [r for r in results if isinstance(r, Payment)]
    assert payments, results
    assert all(isinstance(r, Payment | services.PaymentError) for r in results), results
    assert {p.pk for p in payments} == {Payment.objects.get().pk}
    assert fake_gateway.count("charge") == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_with_different_keys_charge_once(fake_gateway):
    order = order_awaiting_payment()

    results = run_at_once([lambda k=k: pay(order, key=f"form-{k}") for k in range(4)])

    assert sum(isinstance(r, Payment) for r in results) == 1, results
    assert sum(isinstance(r, services.PaymentError) for r in results) == 3, results
    assert Payment.objects.count() == 1
    assert fake_gateway.count("charge") == 1


@pytest.mark.django_db
def test_a_resent_form_gets_its_answer_even_past_the_decline_limit(fake_gateway, settings):
    settings.SHOP_DECLINE_LIMIT = 1
    limiter = services.DeclineLimiter(session_key="session-r", user_id=None, address="203.0.113.7")
    order = order_awaiting_payment()
    first = pay(order, key="the-form", token="tok_decline", limiter=limiter)

    again = pay(order, key="the-form", token="tok_decline", limiter=limiter)

    assert again.pk == first.pk and again.status == Payment.Status.DECLINED
    assert fake_gateway.count("charge") == 1
    with pytest.raises(services.TooManyDeclines):
        pay(order, key="a-new-form", token="tok_ok", limiter=limiter)


@pytest.mark.django_db
def test_a_capture_the_provider_refuses_is_an_error_and_changes_nothing(fake_gateway, monkeypatch):
    order = order_awaiting_payment(fulfillment="pickup")
    payment = pay(order)
    monkeypatch.setattr(
        fake_gateway,
        "capture",
        lambda **kwargs: base.ChargeResult(status=base.DECLINED, reference=kwargs["reference"]),
    )

    with pytest.raises(services.PaymentError, match="refused to capture"):
        services.capture_for_order(order_id=order.pk)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED and payment.captured_minor == 0
