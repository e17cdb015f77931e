"""The sandbox provider behind the shop's gateway interface (gateways/base.Gateway).

Charges follow the test card behind the token (see README "Test cards"): success, a decline
with its code, or a 3-D Secure challenge on the sandbox's own page. Everything is kept in the
sandbox's own tables; the shop sees only references, statuses and brand/last 4.
"""

import json
import time
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from shop.payments import integrity

from .. import base, signing
from .models import SandboxCharge, SandboxOperation, SandboxToken

SIGNATURE_HEADER = "Sandbox-Signature"

_DECLINES = {
    SandboxToken.Outcome.GENERIC_DECLINE: "generic_decline",
    SandboxToken.Outcome.INSUFFICIENT_FUNDS: "insufficient_funds",
    SandboxToken.Outcome.EXPIRED_CARD: "expired_card",
}

_RESULT_STATUS = {
    SandboxCharge.Status.REQUIRES_ACTION: base.REQUIRES_ACTION,
    SandboxCharge.Status.AUTHORIZED: base.AUTHORIZED,
    SandboxCharge.Status.CAPTURED: base.CAPTURED,
    SandboxCharge.Status.DECLINED: base.DECLINED,
    SandboxCharge.Status.VOIDED: base.VOIDED,
}


def is_local_path(url: str) -> bool:
    """A path on this site ("/orders/…"), never another host, scheme or a protocol-relative URL."""
    return (
        url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )


def action_url(charge: SandboxCharge) -> str:
    return (
        reverse("sandbox_gateway:three_d_secure", args=[charge.reference])
        + "?"
        + urlencode({"return": charge.return_url})
    )


def result_of(charge: SandboxCharge) -> base.ChargeResult:
    token = charge.token
    return base.ChargeResult(
        status=_RESULT_STATUS[charge.status],
        reference=charge.reference,
        action_url=action_url(charge) if charge.status == SandboxCharge.Status.REQUIRES_ACTION else "",
        decline_code=charge.decline_code,
        card=base.Card(
            brand=token.brand,
            last4=token.last4,
            exp_month=token.exp_month,
            exp_year=token.exp_year,
            fingerprint=token.fingerprint,
        ),
        saved_token=charge.saved_token,
    )


def authenticate(*, reference: str, succeeded: bool) -> SandboxCharge:
    """The shopper's answer on the sandbox bank's 3-D Secure page."""
    with transaction.atomic():
        charge = SandboxCharge.objects.select_for_update().get(reference=reference)
        if charge.status != SandboxCharge.Status.REQUIRES_ACTION:
            return charge
        if succeeded:
            charge.status = SandboxCharge.Status.CAPTURED if charge.capture else SandboxCharge.Status.AUTHORIZED
            charge.captured_minor = charge.amount_minor if charge.capture else 0
        else:
            charge.status = SandboxCharge.Status.DECLINED
            charge.decline_code = "authentication_failed"
        charge.save()
    return charge


def sign_event(event: dict, *, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook as the sandbox would send it: (body, Sandbox-Signature header). For tests and demos."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, signing.sign(secret=settings.SANDBOX_WEBHOOK_SECRET, body=body, timestamp=timestamp)


class SandboxGateway:
    name = "sandbox"

    # --- Charging ---------------------------------------------------------------------------

    def charge(self, request: base.ChargeRequest) -> base.ChargeResult:
        if request.amount_minor <= 0 or len(request.currency) != 3:
            raise base.GatewayError("The amount must be above zero in a three-letter currency.")
        if request.return_url and not is_local_path(request.return_url):
            raise base.GatewayError("The return URL must be a path on this site.")
        existing = SandboxCharge.objects.select_related("token").filter(idempotency_key=request.idempotency_key)
        if (charge := existing.first()) is not None:
            return result_of(charge)
        try:
            with transaction.atomic():
                charge = self._new_charge(request)
        except IntegrityError:
            # Two requests with one key at the same moment: the other one made the charge.
            charge = existing.get()
        return result_of(charge)

    def _new_charge(self, request: base.ChargeRequest) -> SandboxCharge:
        token = SandboxToken.objects.select_for_update().filter(token=request.token, detached_at=None).first()
        if token is None:
            raise base.GatewayError("Unknown or detached card token. Enter the card again.")
        if token.used_at is not None and not token.reusable:
            raise base.GatewayError("This card token was already used. Enter the card again.")
        token.used_at = timezone.now()
        token.save(update_fields=["used_at"])
        charge = SandboxCharge(
            token=token,
            amount_minor=request.amount_minor,
            currency=request.currency.upper(),
            capture=request.capture,
            idempotency_key=request.idempotency_key,
            return_url=request.return_url,
        )
        if token.outcome in _DECLINES:
            charge.status = SandboxCharge.Status.DECLINED
            charge.decline_code = _DECLINES[token.outcome]
        elif (token.outcome == SandboxToken.Outcome.REQUIRES_3DS and not token.reusable) or request.three_d_secure:
            charge.status = SandboxCharge.Status.REQUIRES_ACTION
        elif request.capture:
            charge.status = SandboxCharge.Status.CAPTURED
            charge.captured_minor = request.amount_minor
        else:
            charge.status = SandboxCharge.Status.AUTHORIZED
        if request.save_card and charge.status != SandboxCharge.Status.DECLINED:
            saved = SandboxToken.objects.create(
                outcome=SandboxToken.Outcome.SUCCESS
                if token.outcome == SandboxToken.Outcome.REQUIRES_3DS
                else token.outcome,
                brand=token.brand,
                last4=token.last4,
                exp_month=token.exp_month,
                exp_year=token.exp_year,
                fingerprint=token.fingerprint,
                reusable=True,
            )
            charge.saved_token = saved.token
        charge.save()
        return charge

    def confirm_action(self, *, reference: str) -> base.ChargeResult:
        return result_of(self._charge(reference))

    # --- After the charge -------------------------------------------------------------------

    def capture(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.ChargeResult:
        with transaction.atomic():
            charge = self._charge(reference, lock=True)
            if SandboxOperation.objects.filter(idempotency_key=idempotency_key).exists():
                return result_of(charge)
            if charge.status == SandboxCharge.Status.CAPTURED:
                return result_of(charge)
            if charge.status != SandboxCharge.Status.AUTHORIZED:
                raise base.GatewayError(f"A {charge.status} charge cannot be captured.")
            if not 0 < amount_minor <= charge.amount_minor:
                raise base.GatewayError("The capture amount must be above zero and at most the authorized amount.")
            charge.status = SandboxCharge.Status.CAPTURED
            charge.captured_minor = amount_minor
            charge.save()
            SandboxOperation.objects.create(
                charge=charge, kind="capture", amount_minor=amount_minor, idempotency_key=idempotency_key
            )
        return result_of(charge)

    def void(self, *, reference: str, idempotency_key: str) -> base.ChargeResult:
        with transaction.atomic():
            charge = self._charge(reference, lock=True)
            if charge.status in (SandboxCharge.Status.AUTHORIZED, SandboxCharge.Status.REQUIRES_ACTION):
                charge.status = SandboxCharge.Status.VOIDED
                charge.save()
                SandboxOperation.objects.get_or_create(
                    idempotency_key=idempotency_key, defaults={"charge": charge, "kind": "void"}
                )
            elif charge.status != SandboxCharge.Status.VOIDED:
                raise base.GatewayError(f"A {charge.status} charge cannot be voided.")
        return result_of(charge)

    def refund(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.RefundResult:
        with transaction.atomic():
            charge = self._charge(reference, lock=True)
            done = SandboxOperation.objects.filter(idempotency_key=idempotency_key, kind="refund").first()
            if done is not None:
                return base.RefundResult(reference=done.reference, succeeded=True)
            if charge.status != SandboxCharge.Status.CAPTURED or not (
                0 < amount_minor <= charge.captured_minor - charge.refunded_minor
            ):
                return base.RefundResult(reference="", succeeded=False)
            charge.refunded_minor += amount_minor
            charge.save()
            operation = SandboxOperation.objects.create(
                charge=charge, kind="refund", amount_minor=amount_minor, idempotency_key=idempotency_key
            )
        return base.RefundResult(reference=operation.reference, succeeded=True)

    def detach(self, *, token: str) -> None:
        SandboxToken.objects.filter(token=token, detached_at=None).update(detached_at=timezone.now())

    # --- The browser side and webhooks ------------------------------------------------------

    def client_config(self, *, request) -> base.ClientConfig:
        return base.ClientConfig(
            template="sandbox_gateway/_card_fields.html",
            context={"sandbox_fields_url": reverse("sandbox_gateway:fields")},
            # The payment page frames the sandbox's card fields, and nothing else.
            csp={"frame-src": ["'self'"]},
            scripts=((static("js/payment.js"), integrity.sri("js/payment.js")),),
        )

    def parse_webhook(self, *, body: bytes, headers) -> base.WebhookEvent:
        signing.verify(secret=settings.SANDBOX_WEBHOOK_SECRET, body=body, header=headers.get(SIGNATURE_HEADER, ""))
        try:
            event = json.loads(body)
            return base.WebhookEvent(
                id=str(event["id"]),
                type=str(event["type"]),
                reference=str(event["reference"]),
                created=int(event.get("created") or time.time()),
                amount_minor=int(event.get("amount_minor") or 0),
                data={
                    key: event[key] for key in ("id", "type", "reference", "created", "amount_minor") if key in event
                },
            )
        except (ValueError, KeyError, TypeError) as error:
            raise base.WebhookSignatureError(f"malformed event: {error}") from None

    # ----------------------------------------------------------------------------------------

    def _charge(self, reference: str, *, lock: bool = False) -> SandboxCharge:
        charges = SandboxCharge.objects.select_related("token")
        if lock:
            charges = charges.select_for_update()
        charge = charges.filter(reference=reference).first()
        if charge is None:
            raise base.GatewayError("Unknown charge reference.")
        return charge
