"""The sandbox gateway and the shop's payment page, end to end through the views.

Tokens are made the way the sandbox's card fields make them (POST /sandbox-gateway/tokens/
from the shop's own origin, with only outcome/brand/last 4/expiry), then charged
through /orders/<number>/pay/.
"""

import hashlib
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from shop.orders.models import Order
from shop.payments import services
from shop.payments.gateways import base
from shop.payments.gateways.sandbox.gateway import SandboxGateway, sign_event
from shop.payments.gateways.sandbox.models import SandboxCharge, SandboxToken
from shop.payments.models import Payment
from tests.accounts.conftest import challenge_on, solve
from tests.concurrency import run_at_once
from tests.factories import StockFactory, UserFactory

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"
TEST_CARDS = {
    "4242424242424242": "success",
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000003220": "requires_3ds",
}
DELIVERY = {
    "fulfillment": "delivery",
    "shipping_name": "Ann Example",
    "shipping_street": "Main St 1",
    "shipping_postal_code": "10115",
    "shipping_city": "Berlin",
    "shipping_country": "DE",
}


@pytest.fixture
def stock():
    return StockFactory(product__price_minor=2500, product__slug="teapot", store__name="Mitte", quantity=20)


def place_order(client, stock, *, pickup=False, email="guest@example.com") -> Order:
    assert client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": 1}).status_code == 302
    fields = {"fulfillment": "pickup", "pickup_store": stock.store.pk} if pickup else DELIVERY
    response = client.post(reverse("orders:checkout"), {"email": email, **fields})
    order = Order.objects.latest("created_at")
    # After placing the order, the shopper goes straight to its payment page.
    assert response.status_code == 302 and response.url == reverse("pay:pay", args=[order.number])
    return order


def card_body(number: str, **changes) -> dict:
    """What static/sandbox_gateway/fields.js sends for a card: never the number itself."""
    body = {
        "outcome": TEST_CARDS[number],
        "brand": "visa",
        "last4": number[-4:],
        "exp_month": 12,
        "exp_year": 2034,
    }
    body.update(changes)
    return body


def post_token(client, body, *, origin=ORIGIN):
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(reverse("sandbox_gateway:tokens"), json.dumps(body), content_type="application/json", **extra)


def tokenize(client, number: str) -> str:
    response = post_token(client, card_body(number))
    assert response.status_code == 201, response.content
    return response.json()["token"]


def pay_form(client, order, **extra) -> dict:
    """The hidden fields of the payment page as the browser would post them."""
    page = client.get(reverse("pay:pay", args=[order.number]))
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page.text).group(1)
    data = {"idempotency_key": key, **extra}
    if 'data-challenge="' in page.text:
        data["challenge"] = solve(challenge_on(page))
    return data


def pay(client, order, number: str, **extra):
    token = tokenize(client, number)
    return client.post(reverse("pay:pay", args=[order.number]), pay_form(client, order, token=token, **extra))


# --- Each test card ---------------------------------------------------------------------------


def test_success_card_captures_a_delivery_order(client, stock):
    order = place_order(client, stock)
    response = pay(client, order, "4242424242424242")

    assert response.status_code == 302 and response.url == order.get_absolute_url()
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.captured_minor, payment.card_last4) == ("captured", order.total_minor, "4242")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    charge = SandboxCharge.objects.get(reference=payment.reference)
    assert (charge.status, charge.amount_minor, charge.currency) == ("captured", order.total_minor, order.currency)
    page = client.get(response.url)
    assert "Paid with Visa •••• 4242" in page.text
    assert "Pay now" not in page.text and "Captured" in page.text


def test_success_card_only_authorizes_a_pickup_order_until_handover(client, stock):
    order = place_order(client, stock, pickup=True)
    response = pay(client, order, "4242424242424242")

    assert response.status_code == 302
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.captured_minor) == ("authorized", 0)
    assert "you pay when you collect" in client.get(response.url).text
    # At the counter the clerk's handover captures it, at the sandbox too.
    services.capture_for_order(order_id=order.pk)
    payment.refresh_from_db()
    assert payment.status == "captured"
    assert SandboxCharge.objects.get(reference=payment.reference).captured_minor == order.total_minor


@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        ("4000000000000002", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "insufficient funds"),
        ("4000000000000069", "expired_card", "Your card has expired."),
    ],
)
def test_declining_cards_show_their_message_and_leave_the_order_unpaid(client, stock, number, code, message):
    order = place_order(client, stock)
    response = pay(client, order, number)

    assert response.status_code == 402
    assert message in response.text
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.decline_code) == ("declined", code)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    # The page shown again is ready for a new attempt: a new key and the proof-of-work check.
    assert f'value="{payment.idempotency_key}"' not in response.text
    assert 'data-challenge="' in response.text


def test_after_a_decline_the_next_attempt_needs_the_challenge(client, stock):
    order = place_order(client, stock)
    assert pay(client, order, "4000000000000002").status_code == 402

    page = client.get(reverse("pay:pay", args=[order.number]))
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page.text).group(1)
    token = tokenize(client, "4242424242424242")
    without = client.post(reverse("pay:pay", args=[order.number]), {"idempotency_key": key, "token": token})
    assert without.status_code == 400 and "Automatic check" in without.text
    assert Payment.objects.filter(order=order).count() == 1

    # With the check solved (as challenge.js does in the browser) the good card goes through.
    assert pay(client, order, "4242424242424242").status_code == 302
    assert Payment.objects.get(order=order, status="captured")


def test_3ds_card_completed_on_the_sandbox_page_pays_the_order(client, stock):
    order = place_order(client, stock)
    response = pay(client, order, "4000000000003220")

    assert response.status_code == 302 and response.url.startswith("/sandbox-gateway/3ds/")
    payment = Payment.objects.get(order=order)
    assert payment.status == "requires_action"
    challenge = client.get(response.url)
    assert challenge.status_code == 200
    assert "Sandbox bank — test 3-D Secure" in challenge.text
    back = re.search(r'name="return" value="([^"]+)"', challenge.text).group(1)
    assert back == reverse("pay:return", args=[order.number, payment.idempotency_key])

    done = client.post(response.url.split("?")[0], {"return": back, "decision": "complete"})
    assert done.status_code == 302 and done.url == back
    final = client.get(back)
    assert final.status_code == 302 and final.url == order.get_absolute_url()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == ("captured", "paid")


def test_3ds_card_failed_on_the_sandbox_page_is_declined(client, stock):
    order = place_order(client, stock, pickup=True)
    response = pay(client, order, "4000000000003220")
    page = client.get(response.url)
    back = re.search(r'name="return" value="([^"]+)"', page.text).group(1)

    client.post(response.url.split("?")[0], {"return": back, "decision": "fail"})
    final = client.get(back)

    assert final.status_code == 302 and final.url == reverse("pay:pay", args=[order.number])
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.decline_code) == ("declined", "authentication_failed")
    again = client.get(final.url)
    assert "3-D Secure check was not completed" in again.text
    assert 'data-challenge="' in again.text


def test_3ds_page_refuses_a_return_address_elsewhere(client, stock):
    order = place_order(client, stock)
    response = pay(client, order, "4000000000003220")
    path = response.url.split("?")[0]
    for back in ("https://evil.example/", "//evil.example/", "/somewhere/else/"):
        assert client.get(path, {"return": back}).status_code == 400
        assert client.post(path, {"return": back, "decision": "complete"}).status_code == 400
    assert Payment.objects.get(order=order).status == "requires_action"


# --- Idempotency, permissions, limits ---------------------------------------------------------


def test_the_same_idempotency_key_posted_twice_charges_once(client, stock):
    order = place_order(client, stock)
    data = pay_form(client, order, token=tokenize(client, "4242424242424242"))

    first = client.post(reverse("pay:pay", args=[order.number]), data)
    second = client.post(reverse("pay:pay", args=[order.number]), data)

    assert first.status_code == second.status_code == 302
    assert first.url == second.url == order.get_absolute_url()
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


def test_sandbox_charge_with_a_repeated_key_returns_the_same_charge(stock):
    token = SandboxToken.objects.create(
        outcome="success", brand="visa", last4="4242", exp_month=1, exp_year=2040, fingerprint="a" * 64
    )
    request = base.ChargeRequest(
        amount_minor=1000, currency="EUR", token=token.token, idempotency_key="k" * 32, capture=True, return_url="/"
    )
    first, second = SandboxGateway().charge(request), SandboxGateway().charge(request)
    assert first.reference == second.reference and first.status == second.status == base.CAPTURED
    assert SandboxCharge.objects.count() == 1
    # A one-time token cannot pay a second time under another key.
    with pytest.raises(base.GatewayError):
        SandboxGateway().charge(
            base.ChargeRequest(
                amount_minor=1000,
                currency="EUR",
                token=token.token,
                idempotency_key="x" * 32,
                capture=True,
                return_url="/",
            )
        )


def test_pay_page_of_another_persons_order_is_404(client, stock):
    guest_order = place_order(client, stock)
    owner, intruder = UserFactory(), UserFactory()
    owners = Client()
    owners.force_login(owner)
    user_order = place_order(owners, stock, email=owner.email)
    token = tokenize(client, "4242424242424242")

    stranger = Client()
    stranger.force_login(intruder)
    for order in (guest_order, user_order):
        url = reverse("pay:pay", args=[order.number])
        assert stranger.get(url).status_code == 404
        data = {"idempotency_key": "0" * 32, "token": token}
        assert stranger.post(url, data).status_code == 404
        assert stranger.get(reverse("pay:return", args=[order.number, "0" * 32])).status_code == 404
    assert client.get(reverse("pay:pay", args=["ABCDE-FGHJK"])).status_code == 404
    assert Payment.objects.count() == 0


def test_paid_order_has_nothing_to_pay(client, stock):
    order = place_order(client, stock)
    pay(client, order, "4242424242424242")
    response = client.get(reverse("pay:pay", args=[order.number]))
    assert response.status_code == 302 and response.url == order.get_absolute_url()


def test_too_many_declines_are_refused_with_429(client, stock, settings):
    settings.SHOP_DECLINE_LIMIT = 2
    order = place_order(client, stock)
    assert pay(client, order, "4000000000000002").status_code == 402
    assert pay(client, order, "4000000000009995").status_code == 402

    refused = pay(client, order, "4242424242424242")
    assert refused.status_code == 429
    assert "Too many declined payments" in refused.text
    assert Payment.objects.filter(order=order).count() == 2


def test_unknown_token_charges_nothing(client, stock):
    order = place_order(client, stock)
    data = pay_form(client, order, token="tok_made_up")
    response = client.post(reverse("pay:pay", args=[order.number]), data)
    assert response.status_code == 502 and "nothing was charged" in response.text
    assert Payment.objects.count() == 0


def test_pay_without_a_token_explains_what_to_do(client, stock):
    order = place_order(client, stock)
    response = client.post(reverse("pay:pay", args=[order.number]), pay_form(client, order))
    assert response.status_code == 400 and "Enter your card details" in response.text


def test_signed_in_shopper_can_save_the_card(client, stock):
    user = UserFactory()
    client.force_login(user)
    order = place_order(client, stock, email=user.email)
    assert "Save this card for next time" in client.get(reverse("pay:pay", args=[order.number])).text
    pay(client, order, "4242424242424242", save_card="on")
    method = user.payment_methods.get()
    assert (method.gateway, method.last4, method.brand) == ("sandbox", "4242", "visa")
    assert SandboxToken.objects.get(token=method.token).reusable


def test_a_saved_card_pays_the_next_order_without_card_details(client, stock):
    user = UserFactory()
    client.force_login(user)
    first = place_order(client, stock, email=user.email)
    pay(client, first, "4242424242424242", save_card="on")
    method = user.payment_methods.get()
    second = place_order(client, stock, email=user.email)
    page = client.get(reverse("pay:pay", args=[second.number])).text
    assert "Visa •••• 4242" in page and method.token not in page  # the gateway token stays on the server

    response = client.post(reverse("pay:pay", args=[second.number]), pay_form(client, second, saved_card=method.pk))

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == Order.Status.PAID
    assert second.payments.get().card_last4 == "4242"


def test_another_shoppers_saved_card_cannot_be_used(client, stock):
    owner = UserFactory()
    client.force_login(owner)
    order = place_order(client, stock, email=owner.email)
    pay(client, order, "4242424242424242", save_card="on")
    method = owner.payment_methods.get()
    thief = UserFactory()
    client.force_login(thief)
    theirs = place_order(client, stock, email=thief.email)

    response = client.post(reverse("pay:pay", args=[theirs.number]), pay_form(client, theirs, saved_card=method.pk))

    assert response.status_code == 400
    assert not theirs.payments.exists()
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.AWAITING_PAYMENT


def test_guest_is_not_offered_to_save_a_card(client, stock):
    order = place_order(client, stock)
    assert "Save this card" not in client.get(reverse("pay:pay", args=[order.number])).text


# --- The token endpoint -----------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver.evil.example", "null", None])
def test_token_endpoint_refuses_a_foreign_or_missing_origin(client, origin):
    response = post_token(client, card_body("4242424242424242"), origin=origin)
    assert response.status_code == 403
    assert SandboxToken.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {**card_body("4242424242424242"), "number": "4242424242424242"},
        {**card_body("4242424242424242"), "pan": "4242424242424242"},
        {**card_body("4242424242424242"), "cvc": "123"},
        card_body("4242424242424242", last4="4242424242424242"),
        card_body("4242424242424242", brand="4242 4242 4242 4242"),
        card_body("4242424242424242", exp_year="4242-4242-4242-4242"),
        card_body("4242424242424242", outcome="approve_everything"),
        # Nothing derived from the number either: a hash of it gives the number back by brute force.
        card_body("4242424242424242", fingerprint=hashlib.sha256(b"4242424242424242").hexdigest()),
    ],
)
def test_token_endpoint_accepts_nothing_card_number_like(client, body):
    response = post_token(client, body)
    assert response.status_code == 400
    assert SandboxToken.objects.count() == 0


def test_token_endpoint_refuses_non_json_and_get(client):
    assert client.get(reverse("sandbox_gateway:tokens")).status_code == 405
    form = client.post(reverse("sandbox_gateway:tokens"), {"outcome": "success"}, HTTP_ORIGIN=ORIGIN)
    assert form.status_code == 400


# --- Headers: the gateway's iframe and the shop's pages --------------------------------------


def _csp(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_card_fields_page_may_be_framed_by_the_shop_only_and_has_no_named_inputs(client):
    response = client.get(reverse("sandbox_gateway:fields"))
    csp = _csp(response)
    assert csp["frame-ancestors"] == "frame-ancestors 'self'"
    assert "default-src" in csp and "object-src" in csp and "'nonce-" in csp["script-src"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    inputs = re.findall(r"<input[^>]*>", response.text)
    assert len(inputs) == 3 and not any("name=" in tag for tag in inputs)
    assert "<form" not in response.text


def test_pay_page_frames_the_gateway_but_cannot_be_framed(client, stock):
    order = place_order(client, stock)
    response = client.get(reverse("pay:pay", args=[order.number]))
    csp = _csp(response)
    assert csp["frame-src"] == "frame-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]
    # The shop's own page carries no card input at all: only the token and the key.
    assert not re.search(r"cc-number|cc-csc|card-number", response.text)
    order_page = client.get(order.get_absolute_url())
    assert "frame-src" not in _csp(order_page) and "Pay now" in order_page.text


# --- Webhooks ---------------------------------------------------------------------------------


def test_sign_event_round_trips_through_parse_webhook():
    body, header = sign_event({"id": "evt_1", "type": "payment.captured", "reference": "ch_1", "created": 1})
    event = SandboxGateway().parse_webhook(body=body, headers={"Sandbox-Signature": header})
    assert (event.id, event.type, event.reference) == ("evt_1", "payment.captured", "ch_1")
    with pytest.raises(base.WebhookSignatureError):
        SandboxGateway().parse_webhook(body=body + b" ", headers={"Sandbox-Signature": header})
    with pytest.raises(base.WebhookSignatureError):
        SandboxGateway().parse_webhook(body=body, headers={})


def test_sandbox_refund_and_void_follow_the_charge():
    gateway = SandboxGateway()
    token = SandboxToken.objects.create(
        outcome="success", brand="visa", last4="4242", exp_month=1, exp_year=2040, fingerprint="b" * 64, reusable=True
    )

    def charge(key, capture):
        request = base.ChargeRequest(
            amount_minor=1000, currency="EUR", token=token.token, idempotency_key=key, capture=capture, return_url="/"
        )
        return gateway.charge(request)

    captured = charge("c" * 32, True)
    assert gateway.refund(reference=captured.reference, amount_minor=600, idempotency_key="r1").succeeded
    assert gateway.refund(reference=captured.reference, amount_minor=600, idempotency_key="r1").succeeded  # replay
    assert not gateway.refund(reference=captured.reference, amount_minor=600, idempotency_key="r2").succeeded
    assert SandboxCharge.objects.get(reference=captured.reference).refunded_minor == 600

    authorized = charge("d" * 32, False)
    assert gateway.void(reference=authorized.reference, idempotency_key="v1").status == base.VOIDED
    assert gateway.void(reference=authorized.reference, idempotency_key="v1").status == base.VOIDED
    gateway.detach(token=token.token)
    with pytest.raises(base.GatewayError):
        charge("e" * 32, True)


def test_an_open_3ds_check_is_offered_again_and_blocks_a_second_charge(client, stock):
    order = place_order(client, stock)
    action = pay(client, order, "4000000000003220").url

    page = client.get(reverse("pay:pay", args=[order.number]))
    assert "Continue the 3-D Secure check" in page.text and action.replace("&", "&amp;") in page.text
    second = pay(client, order, "4242424242424242")
    assert second.status_code == 409 and "3-D Secure check for this order is still open" in second.text
    assert SandboxCharge.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_make_one_payment_and_one_charge(client, stock):
    order = place_order(client, stock)
    data = pay_form(client, order, token=tokenize(client, "4242424242424242"))
    cookies = client.cookies

    def submit():
        browser = Client()
        browser.cookies = cookies
        return browser.post(reverse("pay:pay", args=[order.number]), data).status_code

    statuses = run_at_once([submit] * 4)

    assert statuses == [302] * 4
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1
    assert Payment.objects.get().status == "captured"
