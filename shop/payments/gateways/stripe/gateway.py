"""Stripe behind the shop's gateway interface (gateways/base.Gateway), through the official SDK.

The browser turns the card into a PaymentMethod (`pm_…`) with Stripe.js, whose card inputs live
in Stripe's own iframe; the shop only ever holds that id. A charge is one PaymentIntent, created
and confirmed in a single call. Everything the SDK returns is read as plain dicts and turned into
the dataclasses of gateways.base here, so no Stripe object leaves this module.

Idempotency: every POST carries an Idempotency-Key. Stripe keys live for 24 hours per account,
and several installations (each developer's database, staging) may share one test account, so
the keys the shop derives from its own row ids (`capture-12`) are scoped by the PaymentIntent id
before they are sent; the charge key is the shop's random per-attempt key and goes as it is.
"""

import json
import logging

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static

from shop.payments import integrity

from .. import base

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stripe-Signature"

# What Stripe calls a webhook event, in the shop's words (services._WEBHOOK_TARGETS).
EVENT_TYPES = {
    "payment_intent.succeeded": "payment.captured",
    "payment_intent.amount_capturable_updated": "payment.authorized",
    "payment_intent.payment_failed": "payment.failed",
    "payment_intent.canceled": "payment.voided",
    "charge.refunded": "refund.succeeded",
    "charge.dispute.created": "payment.disputed",
    "radar.early_fraud_warning.created": "payment.fraud_warning",
}

# Which amount of the event's object an event is about.
_EVENT_AMOUNT_FIELD = {
    "payment_intent.succeeded": "amount_received",
    "payment_intent.amount_capturable_updated": "amount_capturable",
    "payment_intent.payment_failed": "amount",
    "payment_intent.canceled": "amount",
    "charge.refunded": "amount_refunded",  # the total refunded on the charge so far
}

# The only fields of an event's object the shop keeps: ids, amounts, statuses. Never names,
# e-mail or billing addresses, and no client_secret (it would let anyone confirm the intent).
_KEPT_EVENT_FIELDS = (
    "id",
    "object",
    "status",
    "amount",
    "amount_capturable",
    "amount_received",
    "amount_refunded",
    "currency",
    "capture_method",
    "cancellation_reason",
    "payment_intent",
    "refunded",
)

# Stripe's error codes for a failed 3-D Secure check, in the words of services.DECLINE_MESSAGES.
_AUTHENTICATION_FAILED = {"payment_intent_authentication_failure", "authentication_required"}

STRIPE_JS = "https://js.stripe.com/v3/"
_PAYMENT_SCRIPT = "stripe_gateway/stripe_payment.js"

# Seconds to wait for Stripe (connect, read). A card charge usually answers in a second or two,
# but a checkout request must not hang for the SDK's default 80 s; with the one retry below, the
# worst case stays under a minute. A timed-out attempt is safe to repeat with its key.
TIMEOUT_SECONDS = (5, 20)


class StripeGateway:
    name = "stripe"

    def __init__(self, *, max_network_retries: int = 1):
        # The SDK retries connection errors, timeouts, 409s and 5xx itself, always with the same
        # Idempotency-Key, so a retry can never charge twice.
        self._max_network_retries = max_network_retries
        self._stripe = None

    @property
    def _api(self):
        if self._stripe is None:
            if not settings.STRIPE_SECRET_KEY:
                raise ImproperlyConfigured("PAYMENT_GATEWAY is 'stripe' but STRIPE_SECRET_KEY is not set.")
            # One client per gateway instance rather than the SDK's module-level globals
            # (stripe.api_key, stripe.api_base): nothing else in the process is affected, and
            # tests can point STRIPE_API_BASE at a local server that answers like Stripe.
            self._stripe = stripe.StripeClient(
                settings.STRIPE_SECRET_KEY,
                base_addresses={"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None,
                max_network_retries=self._max_network_retries,
                http_client=stripe.new_default_http_client(timeout=TIMEOUT_SECONDS),
            )
        return self._stripe.v1

    # --- Charging ------------------------------------------------------------------------------

    def charge(self, request: base.ChargeRequest) -> base.ChargeResult:
        """Create and confirm one PaymentIntent for the token (a PaymentMethod id).

        A card Stripe may reuse later must belong to a Customer: a PaymentMethod used once
        without one can never be used again. So when the shopper saves the card, a Customer is
        created for it (the gateway knows no shop account; one Customer per saved card is
        enough), and charging a saved card names the Customer it is attached to.
        """
        # Stripe sends the shopper back from the bank's page to this URL, so it must name the
        # shop's host: the shop passes a path, made absolute with SITE_URL.
        return_url = request.return_url
        if not return_url.startswith(("https://", "http://")):
            return_url = settings.SITE_URL + return_url
        try:
            customer = self._call(self._api.payment_methods.retrieve, request.token).get("customer") or ""
            params = {
                "amount": request.amount_minor,
                "currency": request.currency.lower(),
                "payment_method": request.token,
                "payment_method_types": ["card"],
                "confirm": True,
                # Pickup orders are only authorized now, captured by the clerk at handover.
                # Stripe holds an uncaptured card authorization for 7 days.
                "capture_method": "automatic" if request.capture else "manual",
                # With a return_url, a 3-D Secure challenge comes back as a redirect_to_url
                # next action: the shopper goes to the bank's page and returns to the shop.
                "return_url": return_url,
                "expand": ["payment_method"],
            }
            if request.description:
                params["description"] = request.description
            if request.three_d_secure:
                params["payment_method_options"] = {"card": {"request_three_d_secure": "challenge"}}
            if request.save_card:
                if not customer:
                    customer = self._call(
                        self._api.customers.create,
                        {"description": "Saved card"},
                        idempotency_key=f"{request.idempotency_key}:customer",
                    )["id"]
                params["setup_future_usage"] = "off_session"
            if customer:
                params["customer"] = customer
            intent = self._call(
                self._api.payment_intents.create,
                params,
                idempotency_key=request.idempotency_key,
                passing=(stripe.CardError,),
            )
        except stripe.CardError as error:
            return _declined_by(error)
        return _result_of(intent)

    def confirm_action(self, *, reference: str) -> base.ChargeResult:
        intent = self._call(self._api.payment_intents.retrieve, reference, {"expand": ["payment_method"]})
        return _result_of(intent)

    def capture(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.ChargeResult:
        try:
            intent = self._call(
                self._api.payment_intents.capture,
                reference,
                {"amount_to_capture": amount_minor, "expand": ["payment_method"]},
                idempotency_key=f"{reference}:{idempotency_key}",
                passing=(stripe.CardError,),
            )
        except stripe.CardError as error:
            return _declined_by(error)
        return _result_of(intent)

    def void(self, *, reference: str, idempotency_key: str) -> base.ChargeResult:
        intent = self._call(
            self._api.payment_intents.cancel,
            reference,
            {"expand": ["payment_method"]},
            idempotency_key=f"{reference}:{idempotency_key}",
        )
        return _result_of(intent)

    def refund(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.RefundResult:
        try:
            refund = self._call(
                self._api.refunds.create,
                {"payment_intent": reference, "amount": amount_minor},
                idempotency_key=f"{reference}:{idempotency_key}",
                passing=(stripe.InvalidRequestError,),
            )
        except stripe.InvalidRequestError as error:
            # Stripe refused it (already refunded, more than is left, a disputed charge):
            # nothing was refunded, and services tells the manager so.
            logger.warning("Stripe refused a refund of %s: %s (%s)", reference, error.code, error.request_id)
            return base.RefundResult(reference="", succeeded=False)
        # "pending" is a refund Stripe accepted and is still sending to the card network.
        return base.RefundResult(reference=refund["id"], succeeded=refund.get("status") in ("succeeded", "pending"))

    def detach(self, *, token: str) -> None:
        try:
            self._call(self._api.payment_methods.detach, token, passing=(stripe.InvalidRequestError,))
        except stripe.InvalidRequestError as error:
            # Already detached, or unknown to Stripe: either way it can no longer be charged.
            logger.info("Stripe had nothing to detach for a saved card: %s (%s)", error.code, error.request_id)

    def _call(self, method, *args, idempotency_key: str = "", passing: tuple = ()):
        """One SDK call, its answer as a plain dict. The errors in `passing` reach the caller, which
        knows what they mean there (a decline, a refused refund); any other failure becomes
        base.GatewayError: nothing happened, the shopper or clerk may try again."""
        try:
            return method(*args, options={"idempotency_key": idempotency_key} if idempotency_key else None).to_dict()
        except passing:
            raise
        except stripe.StripeError as error:
            # The error class, HTTP status, Stripe's code and request id: enough to find the
            # request in Stripe's dashboard, and nothing about the card.
            logger.warning(
                "Stripe call failed: %s %s %s (%s)",
                type(error).__name__,
                error.http_status or "-",
                error.code or "-",
                error.request_id or "-",
            )
            raise base.GatewayError(f"Stripe failed or could not be reached: {type(error).__name__}") from error

    # --- The payment page ----------------------------------------------------------------------

    def client_config(self, *, request) -> base.ClientConfig:
        return base.ClientConfig(
            template="payments/stripe_fields.html",
            context={"stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY},
            # Exactly Stripe's origins for Stripe.js and its card element (Stripe's CSP guide):
            # the script, its iframes (card fields, 3-D Secure frames on hooks.stripe.com),
            # and the API the card element tokenizes against. form-action too: the answer to
            # Pay may be a redirect to Stripe's 3-D Secure page, and browsers check a form's
            # redirects against the submitting page's form-action.
            csp={
                "script-src": ["https://js.stripe.com"],
                "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
                "connect-src": ["https://api.stripe.com"],
                "form-action": ["https://hooks.stripe.com"],
            },
            # Stripe.js has no Subresource Integrity hash: Stripe changes the file behind
            # js.stripe.com/v3/ without notice and publishes no hashes, and requires it to be
            # loaded from there (never self-hosted). It is listed here so that the payment page's
            # script inventory (PCI DSS 6.4.3) names it; its integrity rests on the CSP origin.
            # The shop's own glue script is pinned by its hash.
            scripts=((STRIPE_JS, ""), (static(_PAYMENT_SCRIPT), integrity.sri(_PAYMENT_SCRIPT))),
        )

    # --- Webhooks ------------------------------------------------------------------------------

    def parse_webhook(self, *, body: bytes, headers) -> base.WebhookEvent:
        """Verify Stripe's signature (HMAC-SHA256 over "t.body", the `Stripe-Signature` header)
        with the SDK, then keep only the event's ids, amounts and statuses."""
        try:
            stripe.WebhookSignature.verify_header(
                body,
                headers.get(SIGNATURE_HEADER, ""),
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=settings.WEBHOOK_TOLERANCE_SECONDS,
            )
        except stripe.SignatureVerificationError as error:
            raise base.WebhookSignatureError(str(error)) from None
        except UnicodeDecodeError:
            raise base.WebhookSignatureError("body is not UTF-8") from None
        try:
            event = json.loads(body)
            stripe_type = str(event["type"])
            obj = event["data"]["object"]
            # Charges, disputes and early fraud warnings name the PaymentIntent they are about.
            about_intent = obj.get("object") in ("charge", "dispute", "radar.early_fraud_warning")
            reference = obj.get("payment_intent") if about_intent else obj.get("id")
            data = {key: obj[key] for key in _KEPT_EVENT_FIELDS if key in obj and not isinstance(obj[key], dict)}
            error = obj.get("last_payment_error") or {}
            if error:
                data["decline_code"] = _decline_code(error)
            return base.WebhookEvent(
                id=str(event["id"]),
                # An event the shop has no word for keeps Stripe's name, prefixed so that it can
                # never be mistaken for one of the shop's own types; services then ignore it.
                type=EVENT_TYPES.get(stripe_type, f"stripe.{stripe_type}"),
                reference=str(reference or ""),
                created=int(event["created"]),
                amount_minor=int(obj.get(_EVENT_AMOUNT_FIELD.get(stripe_type, "amount")) or 0),
                data={"stripe_type": stripe_type, **data},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise base.WebhookSignatureError(f"malformed event: {error!r}") from None


# --- From Stripe's answers to the shop's dataclasses ----------------------------------------------


def _result_of(intent: dict) -> base.ChargeResult:
    status = intent.get("status")
    reference = intent["id"]
    card = _card_of(intent.get("payment_method"))
    if status in ("succeeded", "requires_capture"):
        saved = intent.get("setup_future_usage") and isinstance(intent.get("payment_method"), dict)
        return base.ChargeResult(
            status=base.CAPTURED if status == "succeeded" else base.AUTHORIZED,
            reference=reference,
            card=card,
            saved_token=intent["payment_method"]["id"] if saved else "",
        )
    if status == "requires_action":
        redirect = ((intent.get("next_action") or {}).get("redirect_to_url") or {}).get("url")
        if not redirect:
            # Only happens without a return_url, which charge() always sends.
            raise base.GatewayError(f"Stripe asked for an action the shop cannot send the shopper to ({reference}).")
        return base.ChargeResult(status=base.REQUIRES_ACTION, reference=reference, action_url=redirect, card=card)
    error = intent.get("last_payment_error")
    if status in ("requires_payment_method", "canceled") and error:
        return base.ChargeResult(
            status=base.DECLINED, reference=reference, decline_code=_decline_code(error), card=card
        )
    if status == "canceled":
        return base.ChargeResult(status=base.VOIDED, reference=reference, card=card)
    # requires_confirmation, processing: a card PaymentIntent confirmed by the server is never
    # left in these; say so rather than guess.
    raise base.GatewayError(f"Stripe left the payment {reference} in an unexpected state: {status}.")


def _declined_by(error: stripe.CardError) -> base.ChargeResult:
    """A 402 card_error: the decline code, and the PaymentIntent it happened to, if Stripe says."""
    details = (error.json_body or {}).get("error") or {}
    intent = details.get("payment_intent") or {}
    logger.info("Stripe declined a card: %s (%s)", _decline_code(details), error.request_id)
    return base.ChargeResult(
        status=base.DECLINED,
        reference=intent.get("id", "") if isinstance(intent, dict) else str(intent),
        decline_code=_decline_code(details),
        card=_card_of(details.get("payment_method")),
    )


def _decline_code(error: dict) -> str:
    """Stripe's decline_code (insufficient_funds, …) or, for expired cards and failed 3-D Secure,
    its error code; services turn these into messages for the shopper."""
    code = error.get("decline_code") or error.get("code") or ""
    if code in _AUTHENTICATION_FAILED:
        return "authentication_failed"
    if code in ("", "card_declined"):
        return "generic_decline"
    return code


def _card_of(payment_method) -> base.Card | None:
    """Brand, last 4, expiry and fingerprint: all Stripe ever returns about a card number."""
    card = payment_method.get("card") if isinstance(payment_method, dict) else None
    if not card:
        return None
    return base.Card(
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        fingerprint=card.get("fingerprint") or "",
    )
