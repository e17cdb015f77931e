"""Every write of payments: charging an order, 3-D Secure return, capture, void, refund, webhooks,
saved cards, and the card-testing defence. Gateways are reached only through gateways.base.
"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.core import audit
from shop.core.templatetags.money import money
from shop.orders.models import Order

from . import gateways
from .gateways import base
from .models import Payment, PaymentMethod, Refund, WebhookEvent
from .signals import card_testing_refused

logger = logging.getLogger(__name__)


class PaymentError(Exception):
    """A payment the shop must refuse; `str(error)` is a message for the person."""


class TooManyDeclines(PaymentError):
    pass


DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined. Try another card or contact your bank.",
    "insufficient_funds": "Your card was declined for insufficient funds. Try another card.",
    "expired_card": "Your card has expired. Check the expiry date or use another card.",
    "authentication_failed": "The 3-D Secure check was not completed. Try again or use another card.",
}


_FORM_USED = "This payment form was already used. Reload the page and try again."


def decline_message(code: str) -> str:
    return DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["generic_decline"])


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


# --- Charging an order -------------------------------------------------------------------------


def pay_order(
    *,
    order: Order,
    token: str,
    idempotency_key: str,
    return_url: str,
    user=None,
    save_card: bool = False,
    limiter: "DeclineLimiter | None" = None,
) -> Payment:
    """Charge the order once. Delivery orders are captured now; pickup orders only authorized,
    and captured when the clerk hands them over.

    The same idempotency key always gives back the same payment (a double click, a retried
    request); the order row is locked, so two concurrent attempts cannot both charge it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise PaymentError(_FORM_USED)
            return existing  # a resent form gets its answer, even past the decline limit
        if limiter is not None:
            limiter.check()
        if order.status != Order.Status.AWAITING_PAYMENT:
            raise PaymentError(f"Order {order.number} is {order.get_status_display().lower()}: nothing to pay.")
        if order.payments.filter(status=Payment.Status.REQUIRES_ACTION).exists():
            raise PaymentError("A 3-D Secure check for this order is still open. Complete it, or wait a minute.")
        gateway = gateways.get_gateway()
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    order=order,
                    gateway=gateway.name,
                    idempotency_key=idempotency_key,
                    amount_minor=order.total_minor,
                    currency=order.currency,
                )
        except IntegrityError:  # the same key, used for another order at this very moment
            raise PaymentError(_FORM_USED) from None
        result = gateway.charge(
            base.ChargeRequest(
                amount_minor=order.total_minor,
                currency=order.currency,
                token=token,
                idempotency_key=idempotency_key,
                capture=not order.is_pickup,
                return_url=return_url,
                description=f"Order {order.number}",
                save_card=save_card and user is not None and user.is_authenticated,
            )
        )
        payment.reference = result.reference
        _apply(payment, result)
        if result.saved_token and user is not None and user.is_authenticated and result.card:
            _save_card(user=user, gateway=gateway.name, token=result.saved_token, card=result.card)
    if payment.status == Payment.Status.DECLINED and limiter is not None:
        limiter.record_decline(order=order)
    return payment


def complete_action(*, payment: Payment) -> Payment:
    """The shopper came back from the 3-D Secure page: ask the gateway how it ended."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.REQUIRES_ACTION:
            return payment
        result = gateways.get_gateway(payment.gateway).confirm_action(reference=payment.reference)
        _apply(payment, result)
        owner = payment.order.user
        if result.saved_token and result.card and owner is not None:  # the shopper asked to save it
            _save_card(user=owner, gateway=payment.gateway, token=result.saved_token, card=result.card)
    return payment


def action_url(*, payment: Payment) -> str:
    """Where the shopper completes the 3-D Secure check of a payment waiting for one ("" if none)."""
    if payment.status != Payment.Status.REQUIRES_ACTION:
        return ""
    return gateways.get_gateway(payment.gateway).confirm_action(reference=payment.reference).action_url


def _apply(payment: Payment, result: base.ChargeResult) -> None:
    """Move the payment to what the gateway said, if that is a step forward; pay the order."""
    target = {
        base.AUTHORIZED: Payment.Status.AUTHORIZED,
        base.CAPTURED: Payment.Status.CAPTURED,
        base.REQUIRES_ACTION: Payment.Status.REQUIRES_ACTION,
        base.DECLINED: Payment.Status.DECLINED,
        base.VOIDED: Payment.Status.VOIDED,
    }[result.status]
    if result.card is not None:
        payment.card_brand, payment.card_last4 = result.card.brand, result.card.last4
    if target == payment.status or not payment.can_become(target):
        payment.save()
        return
    payment.status = target
    payment.decline_code = result.decline_code if target == Payment.Status.DECLINED else ""
    if target == Payment.Status.CAPTURED:
        payment.captured_minor = payment.amount_minor
    payment.save()
    audit.record(
        f"payment.{target}", subject=payment, data={"order_id": payment.order_id, "amount_minor": payment.amount_minor}
    )
    if target in (Payment.Status.AUTHORIZED, Payment.Status.CAPTURED):
        from shop.orders import services as orders

        order = Order.objects.get(pk=payment.order_id)
        if order.status == Order.Status.AWAITING_PAYMENT:
            orders.mark_order_paid(order=order)


# --- After the order is placed ----------------------------------------------------------------


def capture_for_order(*, order_id: int) -> Payment:
    """At the pickup counter: take the money that was authorized at checkout."""
    with transaction.atomic():
        payment = _payment_for_order(order_id, Payment.Status.AUTHORIZED)
        if payment is None:
            captured = Payment.objects.filter(order_id=order_id, status=Payment.Status.CAPTURED).first()
            if captured is not None:
                return captured
            raise PaymentError("This order has no authorized payment to capture.")
        result = gateways.get_gateway(payment.gateway).capture(
            reference=payment.reference, amount_minor=payment.amount_minor, idempotency_key=f"capture-{payment.pk}"
        )
        _apply(payment, result)
        if payment.status != Payment.Status.CAPTURED:
            raise PaymentError(
                "The payment provider refused to capture this payment. Ask a manager before handing over."
            )
    return payment


def void_for_order(*, order_id: int) -> Payment | None:
    """An uncollected or cancelled order: release the authorization. No payment, nothing to do."""
    with transaction.atomic():
        payment = _payment_for_order(order_id, Payment.Status.AUTHORIZED)
        if payment is None:
            return None
        result = gateways.get_gateway(payment.gateway).void(
            reference=payment.reference, idempotency_key=f"void-{payment.pk}"
        )
        _apply(payment, result)
    return payment


def _payment_for_order(order_id: int, status: str) -> Payment | None:
    return Payment.objects.select_for_update().filter(order_id=order_id, status=status).first()


def refund(*, payment: Payment, amount_minor: int, actor, idempotency_key: str) -> Refund:
    """Give money back: never more than was captured and not yet refunded, once per key."""
    if amount_minor <= 0:
        raise PaymentError("Enter an amount above zero.")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        done = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if done is not None:
            return done
        if payment.status not in (Payment.Status.CAPTURED,):
            raise PaymentError(
                f"Only captured payments can be refunded; this one is {payment.get_status_display().lower()}."
            )
        if amount_minor > payment.refundable_minor:
            raise PaymentError(f"At most {money(payment.refundable_minor, payment.currency)} can still be refunded.")
        result = gateways.get_gateway(payment.gateway).refund(
            reference=payment.reference, amount_minor=amount_minor, idempotency_key=idempotency_key
        )
        if not result.succeeded:
            raise PaymentError("The payment provider refused the refund. Nothing was refunded; try again later.")
        created = Refund.objects.create(
            payment=payment,
            amount_minor=amount_minor,
            reference=result.reference,
            idempotency_key=idempotency_key,
            created_by=actor,
        )
        payment.refunded_minor += amount_minor
        if payment.refunded_minor == payment.captured_minor:
            payment.status = Payment.Status.REFUNDED
        payment.save(update_fields=["refunded_minor", "status", "updated_at"])
        audit.record(
            "payment.refunded",
            actor=actor,
            subject=payment,
            data={"refund_id": created.pk, "amount_minor": amount_minor, "order_id": payment.order_id},
        )
        from .tasks import send_refund_notice

        send_refund_notice.delay_on_commit(created.pk)
    return created


# --- Webhooks ---------------------------------------------------------------------------------

_WEBHOOK_TARGETS = {
    "payment.authorized": Payment.Status.AUTHORIZED,
    "payment.captured": Payment.Status.CAPTURED,
    "payment.failed": Payment.Status.DECLINED,
    "payment.voided": Payment.Status.VOIDED,
}


def process_webhook(*, gateway_name: str, event: base.WebhookEvent) -> bool:
    """Apply a verified event once. Returns False for a redelivery. Never moves a payment backwards."""
    # Recording and applying commit together: if applying fails, the record is rolled back too,
    # so the provider's retry is processed instead of being taken for a redelivery and lost.
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    gateway=gateway_name,
                    event_id=event.id,
                    type=event.type,
                    reference=event.reference,
                    payload=event.data,
                )
        except IntegrityError:
            return False
        payment = Payment.objects.select_for_update().filter(gateway=gateway_name, reference=event.reference).first()
        target = _WEBHOOK_TARGETS.get(event.type)
        if payment is not None and target is not None:
            status = {
                Payment.Status.AUTHORIZED: base.AUTHORIZED,
                Payment.Status.CAPTURED: base.CAPTURED,
                Payment.Status.DECLINED: base.DECLINED,
                Payment.Status.VOIDED: base.VOIDED,
            }[target]
            _apply(payment, base.ChargeResult(status=status, reference=payment.reference))
        WebhookEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
    return True


# --- Saved cards ------------------------------------------------------------------------------


def _save_card(*, user, gateway: str, token: str, card: base.Card) -> PaymentMethod:
    method, _ = PaymentMethod.objects.update_or_create(
        user=user,
        fingerprint=card.fingerprint,
        defaults={
            "gateway": gateway,
            "token": token,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
    )
    return method


def delete_saved_card(*, user, method_id: int) -> None:
    """Remove a saved card here and detach it at the gateway."""
    method = PaymentMethod.objects.filter(user=user, pk=method_id).first()
    if method is None:
        raise PaymentError("That card is not saved on your account any more.")
    gateways.get_gateway(method.gateway).detach(token=method.token)
    method.delete()
    audit.record("payment_method.deleted", actor=user, subject=user, data={"brand": method.brand})


# --- Card-testing defence ---------------------------------------------------------------------


class DeclineLimiter:
    """Declined attempts per session, account and client address, in the shared cache.

    Card testers try many stolen numbers quickly; after SHOP_DECLINE_LIMIT declines in an hour
    from any one of these, further attempts are refused (and the burst is audited once).
    """

    def __init__(self, *, session_key: str, user_id: int | None, address: str):
        self.keys = [f"declines:session:{session_key}", f"declines:address:{address}"]
        if user_id:
            self.keys.append(f"declines:user:{user_id}")

    def count(self) -> int:
        return max((cache.get(key, 0) for key in self.keys), default=0)

    def check(self) -> None:
        if self.count() >= settings.SHOP_DECLINE_LIMIT:
            card_testing_refused.send(DeclineLimiter)
            raise TooManyDeclines(
                "Too many declined payments in a short time. Wait an hour, or contact us if you need help."
            )

    def record_decline(self, *, order: Order) -> None:
        window = 60 * 60
        for key in self.keys:
            cache.add(key, 0, timeout=window)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=window)
        if self.count() == settings.SHOP_DECLINE_LIMIT:
            audit.record("payment.decline_burst", subject=order, data={"declines": self.count()})
