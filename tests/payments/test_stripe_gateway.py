"""The Stripe gateway through the real `stripe` SDK, against a local server that answers like Stripe.

The server (127.0.0.1, a random port) replies with recorded, Stripe-shaped JSON and records each
request the SDK sends: method, path, form fields and the Idempotency-Key header. The gateway is
pointed at it through STRIPE_API_BASE, so everything from building the request to reading the
answer and raising the SDK's errors is Stripe's own code. Nothing here reaches beyond 127.0.0.1.
"""

import hashlib
import hmac
import json
import socket
import threading
import time
from base64 import b64encode
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Engine
from django.template.loader import get_template
from django.test import modify_settings

from shop.payments import gateways
from shop.payments.gateways import base
from shop.payments.gateways.stripe import gateway as stripe_gateway
from shop.payments.gateways.stripe.gateway import StripeGateway

WEBHOOK_SECRET = "whsec_test_secret"
RETURN_URL = "https://shop.example/orders/A1B2/payment/return/"
INTENT_ID = "pi_3PtestIntent000001"
CHALLENGE_URL = f"https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1Ptest&payment_intent={INTENT_ID}"

# --- Recorded Stripe answers, trimmed to what the gateway reads plus a little of what it must ignore --


def payment_method(*, customer=None):
    return {
        "id": "pm_1PtestCard0001",
        "object": "payment_method",
        "type": "card",
        "customer": customer,
        "billing_details": {"name": "Ada Lovelace", "email": "ada@example.com", "address": {"postal_code": "10117"}},
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "country": "US",
            "checks": {"cvc_check": "pass"},
        },
        "livemode": False,
    }


def payment_intent(status, **fields):
    intent = {
        "id": INTENT_ID,
        "object": "payment_intent",
        "amount": 2599,
        "amount_capturable": 2599 if status == "requires_capture" else 0,
        "amount_received": 2599 if status == "succeeded" else 0,
        "currency": "eur",
        "capture_method": "manual" if status == "requires_capture" else "automatic",
        "client_secret": f"{INTENT_ID}_secret_Ptest",
        "confirmation_method": "automatic",
        "customer": None,
        "description": "Order A1B2",
        "last_payment_error": None,
        "latest_charge": "ch_3PtestCharge0001" if status in ("succeeded", "requires_capture") else None,
        "livemode": False,
        "next_action": None,
        "payment_method": payment_method(),
        "payment_method_types": ["card"],
        "receipt_email": "ada@example.com",
        "setup_future_usage": None,
        "shipping": {"name": "Ada Lovelace", "address": {"line1": "Unter den Linden 1", "city": "Berlin"}},
        "status": status,
    }
    intent.update(fields)
    return intent


SUCCEEDED = payment_intent("succeeded")
REQUIRES_CAPTURE = payment_intent("requires_capture")
REQUIRES_ACTION = payment_intent(
    "requires_action",
    next_action={"type": "redirect_to_url", "redirect_to_url": {"url": CHALLENGE_URL, "return_url": RETURN_URL}},
)
CANCELED = payment_intent("canceled", cancellation_reason="requested_by_customer")
AUTHENTICATION_FAILED = payment_intent(
    "requires_payment_method",
    last_payment_error={
        "type": "invalid_request_error",
        "code": "payment_intent_authentication_failure",
        "message": "The provided PaymentMethod has failed authentication.",
    },
)


def card_error(code, *, decline_code=None, message="Your card was declined."):
    """Stripe's 402 answer to a confirmation the card network refused."""
    error = {
        "type": "card_error",
        "code": code,
        "message": message,
        "param": "",
        "doc_url": f"https://stripe.com/docs/error-codes/{code}",
    }
    if decline_code:
        error["decline_code"] = decline_code
    error["payment_intent"] = payment_intent("requires_payment_method", last_payment_error=dict(error))
    error["payment_method"] = payment_method()
    return {"error": error}


def invalid_request(code, message):
    return {"error": {"type": "invalid_request_error", "code": code, "message": message}}


CUSTOMER = {"id": "cus_PtestCustomer1", "object": "customer", "description": "Saved card"}
REFUND = {
    "id": "re_3PtestRefund0001",
    "object": "refund",
    "amount": 1000,
    "currency": "eur",
    "charge": "ch_3PtestCharge0001",
    "payment_intent": INTENT_ID,
    "status": "succeeded",
}
DETACHED = payment_method(customer=None)


# --- The local Stripe ----------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    form: dict
    idempotency_key: str | None
    authorization: str | None


class FakeStripe:
    """Answers by (method, path); an answer list is served in turn, its last entry from then on."""

    def __init__(self):
        self.answers: dict[tuple[str, str], list[tuple[int, dict]]] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, body: dict, status: int = 200, *then: tuple[int, dict]):
        self.answers[(method, path)] = [(status, body), *then]

    def next_answer(self, method: str, path: str) -> tuple[int, dict]:
        with self.lock:
            queue = self.answers.get((method, path))
            if not queue:
                return 404, invalid_request("resource_missing", f"Unrecognized request URL ({method}: {path}).")
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def posts(self) -> list[Recorded]:
        return [request for request in self.requests if request.method == "POST"]


class _StripeHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def do_DELETE(self):
        self._answer()

    def _answer(self):
        fake: FakeStripe = self.server.fake
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = body if self.command == "POST" else url.query
        fake.requests.append(
            Recorded(
                method=self.command,
                path=url.path,
                form=dict(parse_qsl(fields, keep_blank_values=True)),
                idempotency_key=self.headers.get("Idempotency-Key"),
                authorization=self.headers.get("Authorization"),
            )
        )
        status, answer = fake.next_answer(self.command, url.path)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_test{len(fake.requests)}")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # keep the test output quiet
        pass


@pytest.fixture
def fake_stripe(settings):
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StripeHandler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    # Never api.stripe.com: a test that forgets fake_stripe talks to a closed local port instead.
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{_closed_port()}"
    settings.STRIPE_SECRET_KEY = "sk_test_shop"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_shop"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.WEBHOOK_TOLERANCE_SECONDS = 5 * 60


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gateway():
    # No SDK retries unless a test is about them: a refused connection should fail at once.
    return StripeGateway(max_network_retries=0)


def charge_request(**fields):
    values = {
        "amount_minor": 2599,
        "currency": "EUR",
        "token": "pm_1PtestCard0001",
        "idempotency_key": "5f0c8a1e9b7d4c2a8e6f1b3d5a7c9e0f",
        "capture": True,
        "return_url": RETURN_URL,
        "description": "Order A1B2",
    }
    values.update(fields)
    return base.ChargeRequest(**values)


def answer_charge(fake, intent, status=200, *then, method=None):
    fake.answer("GET", "/v1/payment_methods/pm_1PtestCard0001", method or payment_method())
    fake.answer("POST", "/v1/payment_intents", intent, status, *then)


# --- Charging --------------------------------------------------------------------------------------


def test_configured_stripe_gateway_is_the_one_the_shop_gets(settings):
    settings.PAYMENT_GATEWAY = "stripe"
    assert isinstance(gateways.get_gateway(), StripeGateway)
    assert gateways.get_gateway().name == "stripe"


def test_charge_creates_a_confirmed_payment_intent_through_the_sdk(fake_stripe, gateway):
    answer_charge(fake_stripe, SUCCEEDED)

    result = gateway.charge(charge_request())

    [create] = fake_stripe.posts()
    assert create.path == "/v1/payment_intents"
    assert create.form == {
        "amount": "2599",
        "currency": "eur",
        "payment_method": "pm_1PtestCard0001",
        "payment_method_types[0]": "card",
        "confirm": "true",
        "capture_method": "automatic",
        "return_url": RETURN_URL,
        "expand[0]": "payment_method",
        "description": "Order A1B2",
    }
    assert create.idempotency_key == "5f0c8a1e9b7d4c2a8e6f1b3d5a7c9e0f"
    assert create.authorization == "Bearer sk_test_shop"
    assert result == base.ChargeResult(
        status=base.CAPTURED,
        reference=INTENT_ID,
        card=base.Card(brand="visa", last4="4242", exp_month=12, exp_year=2034, fingerprint="Xt5EWLLDS7FJjR1c"),
    )


def test_pickup_order_is_only_authorized_with_manual_capture(fake_stripe, gateway):
    answer_charge(fake_stripe, REQUIRES_CAPTURE)

    result = gateway.charge(charge_request(capture=False))

    assert fake_stripe.posts()[0].form["capture_method"] == "manual"
    assert (result.status, result.reference) == (base.AUTHORIZED, INTENT_ID)


def test_a_3d_secure_challenge_sends_the_shopper_to_stripes_redirect(fake_stripe, gateway):
    answer_charge(fake_stripe, REQUIRES_ACTION)

    result = gateway.charge(charge_request())

    assert (result.status, result.action_url, result.reference) == (base.REQUIRES_ACTION, CHALLENGE_URL, INTENT_ID)


def test_the_shopper_back_from_the_challenge_gets_the_intents_current_state(fake_stripe, gateway):
    fake_stripe.answer("GET", f"/v1/payment_intents/{INTENT_ID}", SUCCEEDED)

    result = gateway.confirm_action(reference=INTENT_ID)

    [retrieve] = fake_stripe.requests
    assert retrieve.form == {"expand[0]": "payment_method"}
    assert (result.status, result.card.last4) == (base.CAPTURED, "4242")


def test_a_failed_challenge_is_a_decline_for_failed_authentication(fake_stripe, gateway):
    fake_stripe.answer("GET", f"/v1/payment_intents/{INTENT_ID}", AUTHENTICATION_FAILED)

    result = gateway.confirm_action(reference=INTENT_ID)

    assert (result.status, result.decline_code) == (base.DECLINED, "authentication_failed")


@pytest.mark.parametrize(
    ("code", "decline_code", "expected"),
    [
        ("card_declined", "generic_decline", "generic_decline"),
        ("card_declined", "insufficient_funds", "insufficient_funds"),
        ("expired_card", None, "expired_card"),
        ("card_declined", None, "generic_decline"),
    ],
)
def test_a_card_error_is_a_decline_with_stripes_code(fake_stripe, gateway, code, decline_code, expected):
    answer_charge(fake_stripe, card_error(code, decline_code=decline_code), 402)

    result = gateway.charge(charge_request())

    assert (result.status, result.decline_code, result.reference) == (base.DECLINED, expected, INTENT_ID)
    assert result.card.last4 == "4242"
    assert result.saved_token == ""


def test_an_intent_left_waiting_for_another_card_is_a_decline(fake_stripe, gateway):
    declined = payment_intent(
        "requires_payment_method",
        last_payment_error={"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
    )
    answer_charge(fake_stripe, declined)

    result = gateway.charge(charge_request())

    assert (result.status, result.decline_code) == (base.DECLINED, "insufficient_funds")


def test_saving_the_card_attaches_it_to_a_new_customer_for_reuse(fake_stripe, gateway):
    fake_stripe.answer("POST", "/v1/customers", CUSTOMER)
    saved = payment_intent(
        "succeeded",
        customer=CUSTOMER["id"],
        setup_future_usage="off_session",
        payment_method=payment_method(customer=CUSTOMER["id"]),
    )
    answer_charge(fake_stripe, saved)

    result = gateway.charge(charge_request(save_card=True))

    customer, create = fake_stripe.posts()
    assert customer.path == "/v1/customers"
    assert customer.idempotency_key == "5f0c8a1e9b7d4c2a8e6f1b3d5a7c9e0f:customer"
    assert create.form["setup_future_usage"] == "off_session"
    assert create.form["customer"] == CUSTOMER["id"]
    assert result.saved_token == "pm_1PtestCard0001"
    assert result.card.fingerprint == "Xt5EWLLDS7FJjR1c"


def test_charging_a_saved_card_names_the_customer_it_belongs_to(fake_stripe, gateway):
    answer_charge(fake_stripe, SUCCEEDED, method=payment_method(customer=CUSTOMER["id"]))

    result = gateway.charge(charge_request())

    [create] = fake_stripe.posts()
    assert create.form["customer"] == CUSTOMER["id"]
    assert "setup_future_usage" not in create.form
    assert result.status == base.CAPTURED
    assert result.saved_token == ""


def test_an_unknown_token_is_a_gateway_error_and_nothing_is_charged(fake_stripe, gateway):
    fake_stripe.answer(
        "GET",
        "/v1/payment_methods/pm_1PtestCard0001",
        invalid_request("resource_missing", "No such PaymentMethod: 'pm_1PtestCard0001'"),
        400,
    )

    with pytest.raises(base.GatewayError):
        gateway.charge(charge_request())

    assert fake_stripe.posts() == []


def test_stripe_out_of_reach_is_a_gateway_error(gateway):
    # stripe_settings points STRIPE_API_BASE at a local port nobody listens on.
    with pytest.raises(base.GatewayError):
        gateway.charge(charge_request())


def test_stripe_failing_is_retried_with_the_same_idempotency_key_then_a_gateway_error(fake_stripe):
    answer_charge(fake_stripe, {"error": {"type": "api_error", "message": "Something went wrong."}}, 500)

    with pytest.raises(base.GatewayError):
        StripeGateway(max_network_retries=1).charge(charge_request())

    keys = [request.idempotency_key for request in fake_stripe.posts()]
    assert keys == ["5f0c8a1e9b7d4c2a8e6f1b3d5a7c9e0f"] * 2


def test_a_retry_after_a_failure_gets_stripes_answer_once(fake_stripe):
    answer_charge(fake_stripe, {"error": {"type": "api_error", "message": "Busy."}}, 503, (200, SUCCEEDED))

    result = StripeGateway(max_network_retries=1).charge(charge_request())

    assert result.status == base.CAPTURED
    assert len({request.idempotency_key for request in fake_stripe.posts()}) == 1


def test_a_return_path_is_made_absolute_with_the_site_url(fake_stripe, gateway, settings):
    settings.SITE_URL = "https://shop.example.com"
    answer_charge(fake_stripe, SUCCEEDED)
    gateway.charge(charge_request(return_url="/pay/A1B2/return/"))

    [create] = fake_stripe.posts()
    assert create.form["return_url"] == "https://shop.example.com/pay/A1B2/return/"


def test_without_a_secret_key_the_gateway_refuses_to_start(settings, gateway):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(ImproperlyConfigured):
        gateway.charge(charge_request())


# --- After the charge ------------------------------------------------------------------------------


def test_capture_takes_the_authorized_amount_with_a_key_scoped_to_the_intent(fake_stripe, gateway):
    fake_stripe.answer("POST", f"/v1/payment_intents/{INTENT_ID}/capture", SUCCEEDED)

    result = gateway.capture(reference=INTENT_ID, amount_minor=2599, idempotency_key="capture-12")

    [capture] = fake_stripe.posts()
    assert capture.form == {"amount_to_capture": "2599", "expand[0]": "payment_method"}
    assert capture.idempotency_key == f"{INTENT_ID}:capture-12"
    assert result.status == base.CAPTURED


def test_an_expired_authorization_cannot_be_captured(fake_stripe, gateway):
    fake_stripe.answer(
        "POST",
        f"/v1/payment_intents/{INTENT_ID}/capture",
        invalid_request("payment_intent_unexpected_state", "This PaymentIntent could not be captured."),
        400,
    )

    with pytest.raises(base.GatewayError):
        gateway.capture(reference=INTENT_ID, amount_minor=2599, idempotency_key="capture-12")


def test_void_cancels_the_intent(fake_stripe, gateway):
    fake_stripe.answer("POST", f"/v1/payment_intents/{INTENT_ID}/cancel", CANCELED)

    result = gateway.void(reference=INTENT_ID, idempotency_key="void-12")

    [cancel] = fake_stripe.posts()
    assert cancel.idempotency_key == f"{INTENT_ID}:void-12"
    assert (result.status, result.reference) == (base.VOIDED, INTENT_ID)


def test_refund_gives_back_part_of_the_intent(fake_stripe, gateway):
    fake_stripe.answer("POST", "/v1/refunds", REFUND)

    result = gateway.refund(reference=INTENT_ID, amount_minor=1000, idempotency_key="refund-key-1")

    [refund] = fake_stripe.posts()
    assert refund.form == {"payment_intent": INTENT_ID, "amount": "1000"}
    assert refund.idempotency_key == f"{INTENT_ID}:refund-key-1"
    assert result == base.RefundResult(reference="re_3PtestRefund0001", succeeded=True)


def test_a_refund_stripe_refuses_is_reported_as_not_succeeded(fake_stripe, gateway):
    fake_stripe.answer(
        "POST", "/v1/refunds", invalid_request("charge_already_refunded", "Charge has already been refunded."), 400
    )

    result = gateway.refund(reference=INTENT_ID, amount_minor=1000, idempotency_key="refund-key-2")

    assert result == base.RefundResult(reference="", succeeded=False)


def test_a_refund_while_stripe_is_out_of_reach_is_a_gateway_error(gateway):
    with pytest.raises(base.GatewayError):
        gateway.refund(reference=INTENT_ID, amount_minor=1000, idempotency_key="refund-key-3")


def test_deleting_a_saved_card_detaches_it_at_stripe(fake_stripe, gateway):
    fake_stripe.answer("POST", "/v1/payment_methods/pm_1PtestCard0001/detach", DETACHED)

    gateway.detach(token="pm_1PtestCard0001")

    [detach] = fake_stripe.posts()
    assert detach.path == "/v1/payment_methods/pm_1PtestCard0001/detach"


def test_detaching_a_card_stripe_no_longer_holds_is_not_an_error(fake_stripe, gateway):
    fake_stripe.answer(
        "POST",
        "/v1/payment_methods/pm_1PtestCard0001/detach",
        invalid_request(None, "The payment method you provided is not attached to a customer."),
        400,
    )

    gateway.detach(token="pm_1PtestCard0001")


# --- The payment page ------------------------------------------------------------------------------


def test_the_payment_page_may_load_exactly_stripes_origins(gateway, rf):
    config = gateway.client_config(request=rf.get("/"))

    assert config.template == "payments/stripe_fields.html"
    assert config.context == {"stripe_publishable_key": "pk_test_shop"}
    assert config.csp == {
        "script-src": ["https://js.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
        "connect-src": ["https://api.stripe.com"],
        "form-action": ["https://hooks.stripe.com"],  # the redirect to Stripe's 3-D Secure page
    }
    (stripe_js, stripe_js_hash), (glue, glue_hash) = config.scripts
    assert (stripe_js, stripe_js_hash) == ("https://js.stripe.com/v3/", "")  # Stripe publishes no SRI hash
    assert glue.endswith("/stripe_gateway/stripe_payment.js")
    script = Path(stripe_gateway.__file__).parent / "static" / "stripe_gateway" / "stripe_payment.js"
    assert glue_hash == "sha384-" + b64encode(hashlib.sha384(script.read_bytes()).digest()).decode()


def test_the_card_fields_partial_has_no_card_input_of_the_shops_own():
    templates = Path(stripe_gateway.__file__).parent / "templates"
    html = (
        Engine(dirs=[templates])
        .get_template("payments/stripe_fields.html")
        .render(Context({"stripe_publishable_key": "pk_test_shop"}))
    )

    assert 'data-publishable-key="pk_test_shop"' in html
    assert 'data-token-field="token"' in html
    assert "<input" not in html and "name=" not in html


def test_installed_as_an_app_its_partial_and_script_are_found_by_django():
    with modify_settings(INSTALLED_APPS={"append": "shop.payments.gateways.stripe"}):
        html = get_template("payments/stripe_fields.html").render({"stripe_publishable_key": "pk_test_shop"})
        script = finders.find("stripe_gateway/stripe_payment.js")

    assert "data-stripe-card" in html
    assert script is not None


# --- Webhooks --------------------------------------------------------------------------------------


def stripe_event(event_type, obj, *, event_id="evt_1PtestEvent0001", created=1_760_000_000):
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_test", "idempotency_key": "5f0c8a1e9b7d4c2a8e6f1b3d5a7c9e0f"},
        "type": event_type,
        "data": {"object": obj},
    }


def signed(body: bytes, *, secret=WEBHOOK_SECRET, timestamp=None) -> dict:
    """Stripe's scheme, by hand: HMAC-SHA256 over "<t>.<body>", sent as `t=<t>,v1=<hex>`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}"}


CHARGE_REFUNDED = {
    "id": "ch_3PtestCharge0001",
    "object": "charge",
    "amount": 2599,
    "amount_refunded": 1000,
    "currency": "eur",
    "payment_intent": INTENT_ID,
    "refunded": False,
    "status": "succeeded",
    "billing_details": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
}


@pytest.mark.parametrize(
    ("stripe_type", "obj", "shop_type", "amount"),
    [
        ("payment_intent.succeeded", SUCCEEDED, "payment.captured", 2599),
        ("payment_intent.amount_capturable_updated", REQUIRES_CAPTURE, "payment.authorized", 2599),
        ("payment_intent.canceled", CANCELED, "payment.voided", 2599),
        ("charge.refunded", CHARGE_REFUNDED, "refund.succeeded", 1000),
    ],
)
def test_a_signed_event_is_read_in_the_shops_words(gateway, stripe_type, obj, shop_type, amount):
    body = json.dumps(stripe_event(stripe_type, obj)).encode()

    event = gateway.parse_webhook(body=body, headers=signed(body))

    assert (event.id, event.type, event.reference, event.created) == (
        "evt_1PtestEvent0001",
        shop_type,
        INTENT_ID,
        1_760_000_000,
    )
    assert event.amount_minor == amount
    assert event.data["stripe_type"] == stripe_type


def test_a_failed_payment_event_carries_the_decline_code(gateway):
    failed = payment_intent(
        "requires_payment_method",
        last_payment_error={"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
    )
    body = json.dumps(stripe_event("payment_intent.payment_failed", failed)).encode()

    event = gateway.parse_webhook(body=body, headers=signed(body))

    assert (event.type, event.data["decline_code"]) == ("payment.failed", "insufficient_funds")


def test_an_event_keeps_ids_amounts_and_statuses_only(gateway):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()

    event = gateway.parse_webhook(body=body, headers=signed(body))

    assert event.data == {
        "stripe_type": "payment_intent.succeeded",
        "id": INTENT_ID,
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 2599,
        "amount_capturable": 0,
        "amount_received": 2599,
        "currency": "eur",
        "capture_method": "automatic",
    }
    kept = json.dumps(event.data)
    for secret_or_personal in ("secret", "ada@example.com", "Lovelace", "4242", "Berlin"):
        assert secret_or_personal not in kept


def test_an_event_the_shop_has_no_word_for_is_passed_on_marked_as_stripes(gateway):
    body = json.dumps(stripe_event("customer.created", CUSTOMER)).encode()

    event = gateway.parse_webhook(body=body, headers=signed(body))

    assert event.type == "stripe.customer.created"


def test_a_wrongly_signed_event_is_refused(gateway):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()

    with pytest.raises(base.WebhookSignatureError):
        gateway.parse_webhook(body=body, headers=signed(body, secret="whsec_someone_else"))


def test_an_event_altered_after_signing_is_refused(gateway):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()
    headers = signed(body)

    with pytest.raises(base.WebhookSignatureError):
        gateway.parse_webhook(body=body.replace(b"2599", b"1"), headers=headers)


def test_a_stale_event_is_refused_even_when_its_signature_matches(gateway):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()
    six_minutes_ago = int(time.time()) - 6 * 60

    with pytest.raises(base.WebhookSignatureError, match="tolerance"):
        gateway.parse_webhook(body=body, headers=signed(body, timestamp=six_minutes_ago))


def test_an_event_within_the_tolerance_is_accepted(gateway):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()
    four_minutes_ago = int(time.time()) - 4 * 60

    assert gateway.parse_webhook(body=body, headers=signed(body, timestamp=four_minutes_ago)).type == "payment.captured"


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=deadbeef", "t=1760000000"])
def test_a_missing_or_malformed_signature_header_is_refused(gateway, header):
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()

    with pytest.raises(base.WebhookSignatureError):
        gateway.parse_webhook(body=body, headers={"Stripe-Signature": header} if header else {})


def test_without_a_webhook_secret_every_event_is_refused(settings, gateway):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = json.dumps(stripe_event("payment_intent.succeeded", SUCCEEDED)).encode()

    with pytest.raises(base.WebhookSignatureError):
        gateway.parse_webhook(body=body, headers=signed(body, secret=""))
