"""Click & collect: pickup codes, the clerk's lookups and hand-over, and expiry.

Two secrets per issue of codes, both derived from a random per-issue nonce under PICKUP_CODE_KEY:

- the QR token (128 bits, 32 hex characters): only its SHA-256 is stored, and the order is looked
  up by that digest;
- the typed code (8 Crockford base32 characters = 40 bits, shown as XXXX-XXXX): only
  HMAC(PICKUP_CODE_KEY, "<order id>:<code>") is stored, and it is compared (in constant time) only
  against the order named by the order number the clerk typed, never searched across orders.

Deriving them from the nonce lets the owner's order page and the e-mail show the same codes again
without storing them: the database alone (without the key from the environment) gives neither.
Neither code goes into a URL, an e-mail subject, a log line or the audit log.

Wrong codes are counted per order (5: the order's pickup is locked until a Shop manager releases
it) and per clerk and per store in the shared cache (10 for a clerk, 30 for a store within 15
minutes: the desk pauses, managers are e-mailed once, and it is audited).
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.image import MIMEImage

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from shop.accounts import roles
from shop.catalog.models import Store
from shop.core import audit

from . import fraud, guest_links
from .models import CROCKFORD, Order, PickupCode
from .services import OrderError, _transition, cancel_order

logger = logging.getLogger(__name__)

NEUTRAL = "No collectable order for this code."
LOCKED = (
    "Order {number} is locked after too many wrong pickup codes. "
    "Ask a Shop manager to check the customer's ID and release it."
)
HELD = "Order {number} is held for a fraud review: do not hand it over. A fraud analyst decides first."
DESK_PAUSED = "Too many wrong codes: the desk is paused for 15 minutes. A Shop manager has been told."

TYPED_LENGTH = 8
QR_HEX_LENGTH = 32  # 128 bits


class PickupError(OrderError):
    """A pickup request the shop must refuse; `str(error)` is a message for the clerk or shopper."""


class DeskLocked(PickupError):
    """This clerk (or their store) made too many wrong lookups within the window."""


@dataclass(frozen=True)
class IssuedCodes:
    typed: str  # "XXXX-XXXX"
    qr_token: str  # what the QR code encodes (32 hex characters)


# --- Codes ------------------------------------------------------------------------------------


def _key() -> bytes:
    return settings.PICKUP_CODE_KEY.encode()


def _mac(message: bytes) -> bytes:
    return hmac.new(_key(), message, hashlib.sha256).digest()


def _crockford(data: bytes, length: int) -> str:
    """The first `length` * 5 bits of `data` as Crockford base32 symbols."""
    bits = length * 5
    number = int.from_bytes(data, "big") >> (len(data) * 8 - bits)
    return "".join(CROCKFORD[(number >> (5 * (length - 1 - i))) & 31] for i in range(length))


def _derive(nonce: bytes) -> IssuedCodes:
    qr_token = _mac(b"qr:" + bytes(nonce)).hex()[:QR_HEX_LENGTH]
    raw = _crockford(_mac(b"typed:" + bytes(nonce)), TYPED_LENGTH)
    return IssuedCodes(typed=f"{raw[:4]}-{raw[4:]}", qr_token=qr_token)


def _qr_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _typed_digest(order_id: int, typed: str) -> str:
    """`typed` normalised (8 symbols, no dash)."""
    return hmac.new(_key(), f"{order_id}:{typed}".encode(), hashlib.sha256).hexdigest()


_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_code(text: str) -> str:
    """What a person typed, as the 8 symbols of a code: upper case, no spaces or dashes, O->0, I/L->1.

    The result may still be malformed (wrong length, a U): it then simply matches nothing.
    """
    cleaned = "".join(ch for ch in (text or "").upper() if not ch.isspace() and ch not in "-_–—")
    return cleaned.translate(_CONFUSABLE)


def normalise_number(text: str) -> str:
    """An order number as typed ("ab12c de34f", "AB12CDE34F") in its stored form "AB12C-DE34F"."""
    raw = normalise_code(text)
    return f"{raw[:5]}-{raw[5:]}" if len(raw) == 10 else raw


def _live_codes(order_id: int, now: datetime):
    return PickupCode.objects.filter(order_id=order_id, used_at=None, revoked_at=None, expires_at__gt=now)


def _issue(order: Order, now: datetime) -> tuple[PickupCode, IssuedCodes]:
    """Revoke the order's live codes and issue new ones (caller holds the order's row lock)."""
    PickupCode.objects.filter(order=order, used_at=None, revoked_at=None).update(revoked_at=now)
    nonce = secrets.token_bytes(16)
    codes = _derive(nonce)
    record = PickupCode.objects.create(
        order=order,
        nonce=nonce,
        qr_digest=_qr_digest(codes.qr_token),
        typed_digest=_typed_digest(order.pk, codes.typed.replace("-", "")),
        issued_at=now,
        expires_at=order.pickup_deadline,
    )
    return record, codes


def codes_for(order) -> IssuedCodes | None:
    """The order's current codes (derived again), while it is ready for pickup; else None."""
    if order.status != Order.Status.READY_FOR_PICKUP:
        return None
    record = _live_codes(order.pk, timezone.now()).first()
    return _derive(record.nonce) if record is not None else None


# --- Who may do what --------------------------------------------------------------------------


def _is_manager(user) -> bool:
    return user.is_superuser or user.groups.filter(name=roles.MANAGER).exists()


def clerk_stores(clerk) -> QuerySet[Store]:
    """The stores a clerk may act for (Store.staff); superusers: all."""
    if clerk is None or not clerk.is_authenticated or not clerk.is_active:
        return Store.objects.none()
    if clerk.is_superuser:
        return Store.objects.all()
    return Store.objects.filter(staff=clerk)


def may_mark_ready(user, order) -> bool:
    """Clerks at the pickup desk (or staff with orders.change_order) who work in the order's store;
    Shop managers for every store."""
    if user is None or not user.is_active or not user.is_staff:
        return False
    if not (user.has_perm("orders.change_order") or user.has_perm("orders.use_pickup_desk")):
        return False
    return _is_manager(user) or Store.objects.filter(pk=order.store_id, staff=user).exists()


def id_check_required(order) -> bool:
    return order.total_minor >= settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR


# --- Store staff: ready, re-issue, release ----------------------------------------------------


def mark_ready(*, order, actor) -> IssuedCodes:
    """A paid pickup order is packed: it becomes ready, codes are issued, the shopper is e-mailed."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.is_pickup:
            raise PickupError(f"Order {locked.number} is for delivery, not for pickup.")
        if not may_mark_ready(actor, locked):
            raise PickupError(f"You cannot mark orders of {locked.store.name} ready for pickup.")
        if locked.status != Order.Status.PAID:
            raise PickupError(
                f"Order {locked.number} is {locked.get_status_display().lower()}: "
                "only paid pickup orders can be marked ready."
            )
        locked = _transition(locked, Order.Status.READY_FOR_PICKUP)
        now = timezone.now()
        locked.ready_at = now
        locked.pickup_deadline = now + timedelta(days=settings.SHOP_PICKUP_WINDOW_DAYS)
        locked.save(update_fields=["ready_at", "pickup_deadline", "updated_at"])
        record, codes = _issue(locked, now)
        audit.record(
            "pickup.ready",
            actor=actor,
            subject=locked,
            data={"store_id": locked.store_id, "code_id": record.pk, "deadline": locked.pickup_deadline.isoformat()},
        )
        from .tasks import send_pickup_ready

        send_pickup_ready.delay_on_commit(record.pk)
    order.status, order.ready_at, order.pickup_deadline = locked.status, locked.ready_at, locked.pickup_deadline
    return codes


def reissue(*, order, actor) -> IssuedCodes:
    """New codes for a ready order (same deadline); the old ones stop working at once."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.READY_FOR_PICKUP:
            raise PickupError(f"Order {locked.number} is not waiting for pickup: there are no codes to renew.")
        record, codes = _issue(locked, timezone.now())
        audit.record("pickup.codes_reissued", actor=actor, subject=locked, data={"code_id": record.pk})
    return codes


def release_lock(*, order, manager) -> None:
    """A Shop manager checked the customer's ID: the order's pickup works again (two people, audited)."""
    if manager is None or not manager.is_active or not _is_manager(manager):
        raise PickupError("Only a Shop manager can release a locked order.")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.pickup_locked_at is None:
            raise PickupError(f"Order {locked.number} is not locked.")
        audit.record(
            "pickup.lock_released",
            actor=manager,
            subject=locked,
            data={
                "manager_id": manager.pk,
                "locked_at": locked.pickup_locked_at.isoformat(),
                "wrong_codes": locked.wrong_code_count,
            },
        )
        locked.pickup_locked_at = None
        locked.wrong_code_count = 0
        locked.save(update_fields=["pickup_locked_at", "wrong_code_count", "updated_at"])
    order.pickup_locked_at, order.wrong_code_count = None, 0


# --- The desk: lookups ------------------------------------------------------------------------


def _counter_keys(clerk, stores: list[int]) -> tuple[str, list[str]]:
    return f"pickup:wrong:clerk:{clerk.pk}", [f"pickup:wrong:store:{pk}" for pk in stores]


def _count(key: str) -> int:
    return cache.get(key, 0)


def _bump(key: str) -> int:
    cache.add(key, 0, timeout=settings.SHOP_PICKUP_DESK_WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.SHOP_PICKUP_DESK_WINDOW_SECONDS)
        return 1


def _desk_paused(clerk, store_ids: list[int]) -> bool:
    clerk_key, store_keys = _counter_keys(clerk, store_ids)
    if _count(clerk_key) >= settings.SHOP_PICKUP_WRONG_CODES_PER_CLERK:
        return True
    return any(_count(key) >= settings.SHOP_PICKUP_WRONG_CODES_PER_STORE for key in store_keys)


def _check_desk(clerk) -> list[int]:
    store_ids = list(clerk_stores(clerk).values_list("pk", flat=True))
    if not store_ids:
        raise PickupError("You are not assigned to a store: ask a Shop manager.")
    if _desk_paused(clerk, store_ids):
        raise DeskLocked(DESK_PAUSED)
    return store_ids


def _wrong_code(*, clerk, store_ids: list[int], kind: str, order: Order | None = None) -> None:
    """Count a wrong lookup per clerk and per store; pause the desk at the limit (alert once, audit)."""
    clerk_key, store_keys = _counter_keys(clerk, store_ids)
    clerk_count = _bump(clerk_key)
    store_counts = {pk: _bump(key) for pk, key in zip(store_ids, store_keys, strict=True)}
    audit.record(
        "pickup.wrong_code",
        actor=clerk,
        subject=order,
        data={"kind": kind, "clerk_wrong_codes": clerk_count, "store_ids": store_ids},
    )
    clerk_hit = clerk_count >= settings.SHOP_PICKUP_WRONG_CODES_PER_CLERK
    stores_hit = [pk for pk, n in store_counts.items() if n >= settings.SHOP_PICKUP_WRONG_CODES_PER_STORE]
    if not clerk_hit and not stores_hit:
        return
    # Alert once per window: the first request to set the flag does it.
    flag = f"pickup:desk-alerted:clerk:{clerk.pk}"
    if cache.add(flag, 1, timeout=settings.SHOP_PICKUP_DESK_WINDOW_SECONDS):
        audit.record(
            "pickup.desk_locked",
            actor=clerk,
            data={"clerk_id": clerk.pk, "clerk_wrong_codes": clerk_count, "store_ids": stores_hit or store_ids},
        )
        from .tasks import alert_managers_desk_locked

        transaction.on_commit(lambda: alert_managers_desk_locked.delay(clerk.pk, clerk_count))
    raise DeskLocked(DESK_PAUSED)


def find_by_qr(*, token: str, clerk) -> Order:
    """The ready order whose live QR token this is, in one of the clerk's stores; else NEUTRAL."""
    store_ids = _check_desk(clerk)
    cleaned = (token or "").strip().lower()
    record = None
    if len(cleaned) == QR_HEX_LENGTH:
        record = (
            PickupCode.objects.select_related("order", "order__store")
            .filter(
                qr_digest=_qr_digest(cleaned),
                used_at=None,
                revoked_at=None,
                expires_at__gt=timezone.now(),
                order__status=Order.Status.READY_FOR_PICKUP,
                order__store_id__in=store_ids,
            )
            .first()
        )
    if record is None:
        _wrong_code(clerk=clerk, store_ids=store_ids, kind="qr")
        raise PickupError(NEUTRAL)
    order = record.order
    if order.pickup_locked_at is not None:
        raise PickupError(LOCKED.format(number=order.number))
    return order


def find_by_code(*, number: str, code: str, clerk) -> Order:
    """The order named by `number`, if it is ready in one of the clerk's stores and `code` is its live code.

    The code is checked only against that one order. A wrong code counts against the order (5
    lock it) as well as against the clerk and the store.
    """
    store_ids = _check_desk(clerk)
    order = (
        Order.objects.select_related("store")
        .filter(number=normalise_number(number), fulfillment=Order.Fulfillment.PICKUP, store_id__in=store_ids)
        .first()
    )
    if order is None:
        _wrong_code(clerk=clerk, store_ids=store_ids, kind="typed")
        raise PickupError(NEUTRAL)
    typed = normalise_code(code)
    just_locked = False
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
        if order.pickup_locked_at is not None:
            raise PickupError(LOCKED.format(number=order.number))
        candidate = _typed_digest(order.pk, typed)
        matched = False
        for digest in _live_codes(order.pk, timezone.now()).values_list("typed_digest", flat=True):
            matched = hmac.compare_digest(digest, candidate) or matched
        if matched and order.status == Order.Status.READY_FOR_PICKUP:
            return order
        order.wrong_code_count += 1
        fields = ["wrong_code_count"]
        if order.wrong_code_count >= settings.SHOP_PICKUP_WRONG_CODES_PER_ORDER:
            order.pickup_locked_at = timezone.now()
            fields.append("pickup_locked_at")
            just_locked = True
            audit.record(
                "pickup.order_locked", actor=clerk, subject=order, data={"wrong_codes": order.wrong_code_count}
            )
        order.save(update_fields=fields)
    # Committed above: the count survives the refusal below.
    _wrong_code(clerk=clerk, store_ids=store_ids, kind="typed", order=order)
    if just_locked:
        raise PickupError(LOCKED.format(number=order.number))
    raise PickupError(NEUTRAL)


# --- The desk: hand-over ----------------------------------------------------------------------


def hand_over(*, order_id: int, clerk) -> Order:
    """Ready -> collected, once: under the order's row lock, capture the payment, use up the codes,
    record who and when, audit it, and e-mail the shopper (so a hand-over they did not make is noticed)."""
    from shop.payments import services as payments

    store_ids = list(clerk_stores(clerk).values_list("pk", flat=True))
    try:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update()
                .filter(pk=order_id, store_id__in=store_ids, fulfillment=Order.Fulfillment.PICKUP)
                .first()
            )
            if order is None:
                raise PickupError(NEUTRAL)
            if order.status == Order.Status.COLLECTED:
                raise PickupError(f"Order {order.number} was already handed over.")
            if order.status != Order.Status.READY_FOR_PICKUP:
                raise PickupError(NEUTRAL)
            if order.pickup_locked_at is not None:
                raise PickupError(LOCKED.format(number=order.number))
            if fraud.is_held(order):
                raise PickupError(HELD.format(number=order.number))
            now = timezone.now()
            live = list(_live_codes(order.pk, now).values_list("pk", flat=True))
            if not live:
                raise PickupError(NEUTRAL)
            payment = payments.capture_for_order(order_id=order.pk)
            order = _transition(order, Order.Status.COLLECTED)
            order.collected_at = now
            order.collected_by = clerk
            order.save(update_fields=["collected_at", "collected_by", "updated_at"])
            PickupCode.objects.filter(pk__in=live).update(used_at=now)
            PickupCode.objects.filter(order=order, used_at=None, revoked_at=None).update(revoked_at=now)
            audit.record(
                "pickup.handed_over",
                actor=clerk,
                subject=order,
                data={
                    "store_id": order.store_id,
                    "payment_id": payment.pk,
                    "amount_minor": payment.captured_minor,
                    "id_check_required": id_check_required(order),
                },
            )
            from .tasks import send_pickup_collected

            send_pickup_collected.delay_on_commit(order.pk)
    except payments.PaymentError as error:
        raise PickupError(f"The payment could not be captured, so nothing was handed over: {error}") from error
    return order


# --- Expiry and reminders ---------------------------------------------------------------------


def expire_uncollected(*, now=None) -> int:
    """Cancel ready orders whose deadline passed: void the authorization, restock, notify, audit.

    Runs again safely: an order already cancelled is no longer ready and is skipped.
    """
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status=Order.Status.READY_FOR_PICKUP, pickup_deadline__lte=now).values_list(
            "pk", flat=True
        )
    )
    expired = 0
    for order_id in due:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.status != Order.Status.READY_FOR_PICKUP or order.pickup_deadline > now:
                continue
            cancel_order(order=order, reason="not collected by the pickup deadline")
            PickupCode.objects.filter(order_id=order_id, used_at=None, revoked_at=None).update(revoked_at=now)
            audit.record("pickup.expired", subject=order, data={"deadline": order.pickup_deadline.isoformat()})
            from .tasks import send_pickup_expired

            send_pickup_expired.delay_on_commit(order_id)
            expired += 1
    if expired:
        logger.info("Cancelled %s uncollected pickup order(s)", expired)
    return expired


def send_reminders(*, now=None) -> int:
    """Remind the shopper once, a day before the deadline, of an order still waiting for them."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(
            status=Order.Status.READY_FOR_PICKUP,
            reminder_sent_at=None,
            pickup_deadline__gt=now,
            pickup_deadline__lte=now + timedelta(days=1),
        ).values_list("pk", flat=True)
    )
    return sum(1 for order_id in due if send_notice(order_id=order_id, kind="reminder", now=now))


# --- E-mails ----------------------------------------------------------------------------------

_NOTICES = {
    # kind: (template, subject, the order field that records it was sent)
    "collected": ("emails/pickup_collected", "your order {number} was collected", "collected_notice_sent_at"),
    "reminder": ("emails/pickup_reminder", "your order {number} is waiting for you", "reminder_sent_at"),
    "expired": ("emails/pickup_expired", "your order {number} was not collected", "expiry_notice_sent_at"),
}


def _order_url(order: Order) -> str:
    link = order.get_absolute_url() if order.user_id else guest_links.url_for(order)
    return settings.SITE_URL + link


def _context(order: Order, **extra) -> dict:
    return {
        "order": order,
        "store": order.store,
        "lines": list(order.lines.all()),
        "order_url": _order_url(order),
        "shop_name": settings.SHOP_NAME,
        "id_check": id_check_required(order),
        **extra,
    }


def qr_png(token: str) -> bytes:
    import io

    import qrcode

    image = qrcode.make(token, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg_data_uri(token: str) -> str:
    """The QR code as an SVG data: URI, rendered on the server (the CSP allows data: images)."""
    import base64

    import qrcode
    import qrcode.image.svg

    image = qrcode.make(token, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def send_ready_notice(*, code_id: int) -> bool:
    """E-mail the codes of one issue, once; nothing if they were replaced or used meanwhile."""
    with transaction.atomic():
        record = PickupCode.objects.select_for_update().select_related("order", "order__store").get(pk=code_id)
        order = record.order
        if (
            record.mailed_at is not None
            or record.used_at is not None
            or record.revoked_at is not None
            or order.status != Order.Status.READY_FOR_PICKUP
        ):
            return False
        codes = _derive(record.nonce)
        context = _context(order, codes=codes, qr_cid="pickup-qr")
        message = EmailMultiAlternatives(
            # Never a code in the subject: subjects end up in notifications and mail logs.
            subject=f"{settings.SHOP_NAME}: your order {order.number} is ready for pickup",
            body=render_to_string("emails/pickup_ready.txt", context),
            to=[order.email],
        )
        message.attach_alternative(render_to_string("emails/pickup_ready.html", context), "text/html")
        message.mixed_subtype = "related"
        image = MIMEImage(qr_png(codes.qr_token), "png")
        image.add_header("Content-ID", "<pickup-qr>")
        image.add_header("Content-Disposition", "inline", filename="pickup-qr.png")
        message.attach(image)
        message.send()
        record.mailed_at = timezone.now()
        record.save(update_fields=["mailed_at"])
    logger.info("Pickup-ready e-mail sent for order id %s", order.pk)
    return True


def send_notice(*, order_id: int, kind: str, now=None) -> bool:
    """Send one of the collected / reminder / expired e-mails, once per order."""
    template, subject, field = _NOTICES[kind]
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("store").get(pk=order_id)
        if getattr(order, field) is not None:
            return False
        wanted = {
            "collected": Order.Status.COLLECTED,
            "reminder": Order.Status.READY_FOR_PICKUP,
            "expired": Order.Status.CANCELLED,
        }[kind]
        if order.status != wanted:
            return False
        context = _context(order)
        message = EmailMultiAlternatives(
            subject=f"{settings.SHOP_NAME}: " + subject.format(number=order.number),
            body=render_to_string(template + ".txt", context),
            to=[order.email],
        )
        message.send()
        setattr(order, field, now or timezone.now())
        order.save(update_fields=[field])
    logger.info("Pickup %s e-mail sent for order id %s", kind, order_id)
    return True


def alert_managers(*, clerk_id: int, wrong_codes: int) -> int:
    """Tell the Shop managers that a clerk's desk was paused (ids and counts only)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    recipients = list(
        User.objects.filter(groups__name=roles.MANAGER, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    clerk = User.objects.filter(pk=clerk_id).first()
    context = {
        "clerk": clerk,
        "wrong_codes": wrong_codes,
        "shop_name": settings.SHOP_NAME,
        "minutes": settings.SHOP_PICKUP_DESK_WINDOW_SECONDS // 60,
        "site_url": settings.SITE_URL,
    }
    EmailMultiAlternatives(
        subject=f"{settings.SHOP_NAME}: a pickup desk was paused after wrong codes",
        body=render_to_string("emails/pickup_desk_alert.txt", context),
        to=recipients,
    ).send()
    return len(recipients)
