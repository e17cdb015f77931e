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
from shop.risk import interface as risk

from . import gateways
from .fingerprints import keyed_fingerprint
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
    client: risk.Client | None = None,
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
        if order.payment_due_at is not None and order.payment_due_at <= timezone.now():
            # The expiry job gives the units back within a minute; no new charge may start now.
            raise PaymentError(
                f"The time to pay for order {order.number} has run out, and its items are back on sale. "
                "Please order again."
            )
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
        assessment = _assess(order=order, payment=payment, token=token, user=user, client=client)
        if assessment.blocked:
            # Refused like a bank decline, so the attacker cannot tell the risk engine from the bank.
            payment.status, payment.decline_code = Payment.Status.DECLINED, "risk_blocked"
            payment.save()
            audit.record("payment.declined", subject=payment, data={"order_id": order.pk, "risk": assessment.id})
        else:
            result = gateway.charge(
                base.ChargeRequest(
                    amount_minor=order.total_minor,
                    currency=order.currency,
                    token=token,
                    idempotency_key=idempotency_key,
                    # A held order is only authorized: captured when a reviewer releases it.
                    capture=not order.is_pickup and not assessment.held,
                    return_url=return_url,
                    description=f"Order {order.number}",
                    save_card=save_card and user is not None and user.is_authenticated,
                    three_d_secure=assessment.wants_three_d_secure,
                )
            )
            payment.reference = result.reference
            _apply(payment, result)
            risk.record_payment_result(
                order_id=order.pk,
                user_id=order.user_id,
                client=client or risk.Client(),
                card_fingerprint=result.card.fingerprint if result.card else "",
                declined=payment.status == Payment.Status.DECLINED,
            )
            if result.saved_token and user is not None and user.is_authenticated and result.card:
                _save_card(user=user, gateway=gateway.name, token=result.saved_token, card=result.card)
    if payment.status == Payment.Status.DECLINED and limiter is not None:
        limiter.record_decline(order=order)
    return payment


def _assess(*, order: Order, payment: Payment, token: str, user, client) -> risk.Assessment:
    """Ask the risk engine about this attempt (a saved card's fingerprint is known before the charge)."""
    saved = ""
    if user is not None and user.is_authenticated:
        saved = PaymentMethod.objects.filter(user=user, token=token).values_list("fingerprint", flat=True).first() or ""
    return risk.assess_payment(
        facts=risk.PaymentAttemptFacts(
            order_id=order.pk,
            order_number=order.number,
            user_id=order.user_id,
            amount_minor=order.total_minor,
            currency=order.currency,
            client=client or risk.Client(),
            card_fingerprint=saved,
            shipping_country=order.shipping_country,
        )
    )


def complete_action(*, payment: Payment) -> Payment:
    """The shopper came back from the 3-D Secure page: ask the gateway how it ended."""
    with transaction.atomic():
        # Lock order: the order row first, then its payment (as pay_order and the expiry job do).
        Order.objects.select_for_update().filter(pk=payment.order_id).first()
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

        # The caller holds the order's row lock: the order's status decides, once, whether this
        # money pays the order or arrived too late (the order expired or was cancelled meanwhile).
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if order.status == Order.Status.AWAITING_PAYMENT:
            orders.mark_order_paid(order=order)
        elif order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED):
            _reverse_late_payment(payment, order)


def _reverse_late_payment(payment: Payment, order: Order) -> None:
    """Money the gateway confirmed after the order had closed: give it back at once, and log it."""
    before = payment.status
    if payment.status == Payment.Status.AUTHORIZED:
        result = gateways.get_gateway(payment.gateway).void(
            reference=payment.reference, idempotency_key=f"void-{payment.pk}"
        )
        _apply(payment, result)
    elif payment.status == Payment.Status.CAPTURED and payment.refundable_minor:
        refund(payment=payment, amount_minor=payment.refundable_minor, actor=None, idempotency_key=f"late-{payment.pk}")
        payment.refresh_from_db()
    audit.record(
        "payment.late_reversed",
        subject=payment,
        data={"order_id": order.pk, "order_status": order.status, "was": before, "amount_minor": payment.amount_minor},
    )
    logger.warning(
        "Payment %s confirmed after order id %s was %s: %s automatically",
        payment.pk,
        order.pk,
        order.status,
        "voided" if before == Payment.Status.AUTHORIZED else "refunded",
    )


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
    """An uncollected, cancelled or expired order: release the authorization, and cancel a payment
    still waiting in 3-D Secure so it can never complete. No payment, nothing to do.

    A gateway that cannot void (a 3-D Secure check the shopper completed a moment ago, an outage)
    leaves the payment as it is: if its money arrives later, _apply reverses it automatically.
    """
    released = None
    with transaction.atomic():
        open_payments = Payment.objects.select_for_update().filter(
            order_id=order_id, status__in=(Payment.Status.AUTHORIZED, Payment.Status.REQUIRES_ACTION)
        )
        for payment in open_payments.order_by("pk"):
            try:
                result = gateways.get_gateway(payment.gateway).void(
                    reference=payment.reference, idempotency_key=f"void-{payment.pk}"
                )
            except base.GatewayError as error:
                if payment.status == Payment.Status.AUTHORIZED:
                    raise
                # Most often the shopper completed the check a moment ago: ask how it ended and
                # apply that (an order still unpaid becomes paid; a closed one is reversed).
                logger.warning("Payment %s waiting for 3-D Secure could not be voided: %s", payment.pk, error)
                audit.record("payment.void_failed", subject=payment, data={"order_id": order_id})
                try:
                    _apply(payment, gateways.get_gateway(payment.gateway).confirm_action(reference=payment.reference))
                except base.GatewayError:
                    logger.warning("Payment %s: state unknown; a late confirmation will be reversed", payment.pk)
                continue
            if result.status == base.VOIDED:
                _apply(payment, result)
            released = payment
    return released


def refund_for_order(*, order_id: int, actor, amount_minor: int | None = None, key: str) -> Refund | None:
    """Refund the order's captured payment: all that is left of it, or `amount_minor` (a return)."""
    payment = Payment.objects.filter(order_id=order_id, status=Payment.Status.CAPTURED).first()
    if payment is None:
        return None
    amount = payment.refundable_minor if amount_minor is None else amount_minor
    if amount == 0:
        return None
    return refund(payment=payment, amount_minor=amount, actor=actor, idempotency_key=key)


def _payment_for_order(order_id: int, status: str) -> Payment | None:
    return Payment.objects.select_for_update().filter(order_id=order_id, status=status).first()


def refund(*, payment: Payment, amount_minor: int, actor, idempotency_key: str, fraud: bool = False) -> Refund:
    """Give money back: never more than was captured and not yet refunded, once per key.
    `fraud`: the manager says the order was fraudulent (a label for the risk engine)."""
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
        if fraud:
            risk.record_label(order_id=payment.order_id, source="refund", is_fraud=True, actor=actor)
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


# Provider events that say an order was fraud (Stripe: charge.dispute.created,
# radar.early_fraud_warning.created; the sandbox sends the shop's own names).
_FRAUD_EVENTS = {"payment.disputed": "dispute", "payment.fraud_warning": "fraud_warning"}


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
        order_id = (
            Payment.objects.filter(gateway=gateway_name, reference=event.reference).values_list("order_id", flat=True)
        ).first()
        if order_id is not None:  # lock order: the order row first, then its payment
            Order.objects.select_for_update().filter(pk=order_id).first()
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
        if payment is not None and event.type in _FRAUD_EVENTS:
            # A chargeback or the card network's early fraud warning: the truth the risk model learns from.
            risk.record_label(order_id=payment.order_id, source=_FRAUD_EVENTS[event.type], is_fraud=True)
        WebhookEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
    return True


# --- Saved cards ------------------------------------------------------------------------------


def _save_card(*, user, gateway: str, token: str, card: base.Card) -> PaymentMethod:
    # A gateway that gives no fingerprint: the saved token stands in (each save is then its own card).
    fingerprint = keyed_fingerprint(gateway=gateway, fingerprint=card.fingerprint or token)
    method, _ = PaymentMethod.objects.update_or_create(
        user=user,
        fingerprint=fingerprint,
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
