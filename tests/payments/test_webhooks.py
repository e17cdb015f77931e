"""The webhook endpoint: the signature is the only way in, and each event counts once, in order."""

import json
import logging
import time

import pytest
from django.test import Client
from django.urls import reverse

from shop.core.models import AuditEvent
from shop.payments.gateways import signing
from shop.payments.models import Payment, WebhookEvent
from tests.payments.fakes import order_awaiting_payment

pytestmark = pytest.mark.django_db

URL = reverse("payments:webhook", args=["sandbox"])
HEADER = "Sandbox-Signature"


def sign_event(event, *, timestamp=None):
    from shop.payments.gateways.sandbox.gateway import sign_event

    return sign_event(event, timestamp=timestamp)


def deliver(client, event, *, timestamp=None, header=None):
    body, signature = sign_event(event, timestamp=timestamp)
    return client.post(
        URL, data=body, content_type="application/json", headers={HEADER: signature if header is None else header}
    )


@pytest.fixture
def payment():
    order = order_awaiting_payment(fulfillment="pickup")
    return Payment.objects.create(
        order=order,
        gateway="sandbox",
        reference="ch_webhook_1",
        idempotency_key="webhook-test",
        amount_minor=order.total_minor,
        currency=order.currency,
        status=Payment.Status.AUTHORIZED,
    )


def event(type_, *, id_="evt_1", reference="ch_webhook_1"):
    return {"id": id_, "type": type_, "reference": reference, "created": int(time.time())}


def test_a_well_signed_event_is_applied(client, payment):
    response = deliver(client, event("payment.captured"))

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.captured_minor == payment.amount_minor
    record = WebhookEvent.objects.get()
    assert (record.gateway, record.event_id, record.type) == ("sandbox", "evt_1", "payment.captured")
    assert record.processed_at is not None


def test_the_signature_is_the_authentication_so_no_csrf_token_is_needed(payment):
    response = deliver(Client(enforce_csrf_checks=True), event("payment.captured"))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1700000000",
        "v1=deadbeef",
        "nonsense",
        signing.sign(secret="not-the-secret", body=b"{}"),
    ],
)
def test_a_missing_or_malformed_signature_is_refused(client, payment, header):
    response = deliver(client, event("payment.captured"), header=header)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED


def test_a_bad_signature_is_refused_and_logged_without_the_payload(client, payment, caplog, settings):
    body = json.dumps(event("payment.captured", id_="evt_secretive")).encode()
    header = signing.sign(secret=settings.SANDBOX_WEBHOOK_SECRET + "x", body=body)

    with caplog.at_level(logging.WARNING, logger="shop.payments.webhooks"):
        response = client.post(URL, data=body, content_type="application/json", headers={HEADER: header})

    assert response.status_code == 400
    warnings = [r.getMessage() for r in caplog.records if r.name == "shop.payments.webhooks"]
    assert len(warnings) == 1
    assert "sandbox" in warnings[0] and "signature does not match" in warnings[0]
    assert "evt_secretive" not in warnings[0] and "ch_webhook_1" not in warnings[0]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED


def test_a_tampered_body_is_refused(client, payment):
    body, header = sign_event(event("payment.voided"))
    tampered = body.replace(b"payment.voided", b"payment.captured")

    response = client.post(URL, data=tampered, content_type="application/json", headers={HEADER: header})

    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED


def test_a_stale_signature_is_refused(client, payment):
    six_minutes_ago = int(time.time()) - 6 * 60

    response = deliver(client, event("payment.captured"), timestamp=six_minutes_ago)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED


def test_a_signature_from_the_future_is_refused(client, payment):
    response = deliver(client, event("payment.captured"), timestamp=int(time.time()) + 6 * 60)

    assert response.status_code == 400


def test_a_signature_four_minutes_old_is_still_good(client, payment):
    response = deliver(client, event("payment.captured"), timestamp=int(time.time()) - 4 * 60)

    assert response.status_code == 200


def test_a_replayed_event_is_processed_once(client, payment):
    first = deliver(client, event("payment.captured"))
    second = deliver(client, event("payment.captured"))
    third = deliver(client, event("payment.captured"))

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
    assert WebhookEvent.objects.count() == 1
    assert AuditEvent.objects.filter(action="payment.captured", subject_id=str(payment.pk)).count() == 1


def test_an_event_arriving_after_a_later_one_does_not_move_the_payment_back(client, payment):
    captured = deliver(client, event("payment.captured", id_="evt_2"))
    late_authorized = deliver(client, event("payment.authorized", id_="evt_1"))

    assert (captured.status_code, late_authorized.status_code) == (200, 200)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.captured_minor == payment.amount_minor
    assert WebhookEvent.objects.count() == 2  # both recorded, the late one changed nothing


def test_a_late_failure_does_not_undo_a_capture(client, payment):
    deliver(client, event("payment.captured", id_="evt_2"))
    deliver(client, event("payment.failed", id_="evt_3"))
    deliver(client, event("payment.voided", id_="evt_4"))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED


def test_an_event_about_an_unknown_charge_is_acknowledged(client, payment):
    response = deliver(client, event("payment.captured", reference="ch_someone_else"))

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.AUTHORIZED


def test_an_unknown_gateway_is_not_found(client):
    body, header = sign_event(event("payment.captured"))

    response = client.post(
        reverse("payments:webhook", args=["paypal"]),
        data=body,
        content_type="application/json",
        headers={HEADER: header},
    )

    assert response.status_code == 404


def test_a_body_over_64_kb_is_refused(client, payment):
    big = {**event("payment.captured"), "padding": "x" * (64 * 1024)}

    response = deliver(client, big)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_the_endpoint_only_accepts_post(client):
    assert client.get(URL).status_code == 405


# --- Stripe's endpoint ------------------------------------------------------------------------

STRIPE_URL = reverse("payments:webhook", args=["stripe"])


def stripe_event(reference="pi_webhook_1"):
    return {
        "id": "evt_stripe_1",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"object": "payment_intent", "id": reference, "amount": 5000, "currency": "eur"}},
    }


def test_stripe_events_signed_with_the_endpoint_secret_are_accepted(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    body = json.dumps(stripe_event()).encode()
    header = signing.sign(secret="whsec_test_secret", body=body)

    response = client.post(STRIPE_URL, data=body, content_type="application/json", headers={"Stripe-Signature": header})

    assert response.status_code == 200
    assert WebhookEvent.objects.get().gateway == "stripe"


def test_stripe_events_with_a_bad_signature_are_refused(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    body = json.dumps(stripe_event()).encode()
    header = signing.sign(secret="whsec_other", body=body)

    response = client.post(STRIPE_URL, data=body, content_type="application/json", headers={"Stripe-Signature": header})

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_without_a_webhook_secret_nothing_is_accepted_not_even_an_empty_key_signature(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = json.dumps(stripe_event()).encode()
    header = signing.sign(secret="", body=body)  # what anyone could compute if the empty secret were used

    response = client.post(STRIPE_URL, data=body, content_type="application/json", headers={"Stripe-Signature": header})

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_an_event_that_fails_to_apply_is_not_lost_the_retry_applies_it(client, payment, monkeypatch):
    from shop.payments import services

    real_apply = services._apply
    failures = iter([RuntimeError("database went away")])

    def flaky_apply(*args, **kwargs):
        error = next(failures, None)
        if error is not None:
            raise error
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(services, "_apply", flaky_apply)

    first = deliver(client, event("payment.captured"))
    retry = deliver(client, event("payment.captured"))

    assert first.status_code == 503
    assert retry.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert WebhookEvent.objects.get().processed_at is not None
