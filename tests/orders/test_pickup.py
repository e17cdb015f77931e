"""Pickup codes and the desk's services: codes, lookups, brute-force limits, hand-over, expiry."""

import math
import time
from datetime import timedelta
from functools import partial

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core import mail
from django.db import models
from django.utils import timezone

from shop.accounts import roles
from shop.catalog.models import Stock
from shop.core.models import AuditEvent
from shop.orders import pickup
from shop.orders.models import CROCKFORD, Order, PickupCode
from shop.payments import services as payments
from shop.payments.models import Payment
from tests.concurrency import run_at_once
from tests.factories import StoreFactory, UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def manager():
    roles.sync_roles()
    user = UserFactory(is_staff=True, email="manager@example.com")
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


def make_clerk(*stores):
    roles.sync_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=roles.CLERK))
    for store in stores:
        store.staff.add(user)
    return user


def paid_pickup_order(*, price_minor=5000, email="shopper@example.com"):
    order = order_awaiting_payment(fulfillment="pickup", price_minor=price_minor, email=email)
    payments.pay_order(order=order, token="tok_ok", idempotency_key=f"key-{order.pk}", return_url="/r/")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


@pytest.fixture
def ready(fake_gateway, manager, django_capture_on_commit_callbacks):
    """ready() -> (order, codes, clerk of the order's store): a paid pickup order marked ready."""

    def make(**kwargs):
        order = paid_pickup_order(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            codes = pickup.mark_ready(order=order, actor=manager)
        order.refresh_from_db()
        return order, codes, make_clerk(order.store)

    return make


# --- Codes ------------------------------------------------------------------------------------


def test_the_alphabet_is_crockford_base32():
    assert len(CROCKFORD) == 32 == len(set(CROCKFORD))
    assert not set("ILOU") & set(CROCKFORD)


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh", "ABCDEFGH", "abcdefgh", " ab cd ef gh ", "AB CD-EF GH", "ABCD–EFGH"],
)
def test_normalisation_of_case_dashes_and_spaces(typed):
    assert pickup.normalise_code(typed) == "ABCDEFGH"


def test_normalisation_of_confusable_letters():
    assert pickup.normalise_code("o0il-LIO1") == "00111101"


@pytest.mark.django_db
def test_codes_have_the_promised_shape_and_entropy(ready):
    order, codes, _ = ready()
    raw = codes.typed.replace("-", "")
    assert len(codes.typed) == 9 and codes.typed[4] == "-"
    assert len(raw) == 8 and set(raw) <= set(CROCKFORD)
    assert 8 * math.log2(len(CROCKFORD)) == 40  # bits of the typed code
    assert len(codes.qr_token) == 32 and int(codes.qr_token, 16) >= 0
    assert len(codes.qr_token) * 4 == 128  # bits of the QR token
    # Every issue draws a fresh 128-bit nonce: no two issues share codes.
    again = pickup.reissue(order=order, actor=None)
    assert again.typed != codes.typed and again.qr_token != codes.qr_token
    nonces = set(PickupCode.objects.values_list("nonce", flat=True))
    assert len(nonces) == 2 and all(len(bytes(n)) == 16 for n in nonces)


@pytest.mark.django_db
def test_the_owners_codes_are_derived_again_and_match_the_email(ready):
    order, codes, _ = ready()
    assert pickup.codes_for(order) == codes
    [message] = [m for m in mail.outbox if "ready for pickup" in m.subject]
    assert codes.typed in message.body
    assert codes.typed not in message.subject and codes.qr_token not in message.subject
    assert codes.qr_token not in message.body  # only inside the QR image
    assert order.store.street in message.body and order.number in message.body
    html, _ = message.alternatives[0]
    assert "cid:pickup-qr" in html
    images = [part for part in message.attachments if getattr(part, "get_content_type", lambda: "")() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<pickup-qr>"


@pytest.mark.django_db
def test_nothing_in_the_database_holds_a_plain_code_or_token(ready):
    order, codes, clerk = ready()
    pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)
    pickup.hand_over(order_id=order.pk, clerk=clerk)
    needles = {codes.typed, codes.typed.replace("-", ""), codes.qr_token, codes.qr_token.upper()}
    scanned = 0
    for model in apps.get_models():
        text_fields = [
            f.attname for f in model._meta.concrete_fields if isinstance(f, (models.CharField, models.TextField))
        ]
        json_fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
        binary_fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, models.BinaryField)]
        for row in model._default_manager.values_list(*text_fields, *json_fields, *binary_fields):
            for value in row:
                if value is None:
                    continue
                text = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
                scanned += 1
                for needle in needles:
                    assert needle not in text, f"{model.__name__} stores a pickup code in plain text"
    assert scanned > 50


# --- Lookups ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lower_case_code_without_dash_finds_the_order(ready):
    order, codes, clerk = ready()
    typed = codes.typed.replace("-", "").lower()
    assert pickup.find_by_code(number=order.number.lower(), code=typed, clerk=clerk) == order
    assert pickup.find_by_qr(token=codes.qr_token, clerk=clerk) == order


@pytest.mark.django_db
def test_a_code_works_once(ready):
    order, codes, clerk = ready()
    pickup.hand_over(order_id=order.pk, clerk=clerk)
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_qr(token=codes.qr_token, clerk=clerk)
    with pytest.raises(pickup.PickupError, match="already handed over"):
        pickup.hand_over(order_id=order.pk, clerk=clerk)
    assert pickup.codes_for(order) is None


@pytest.mark.django_db
def test_an_expired_code_is_neutral(ready):
    order, codes, clerk = ready()
    PickupCode.objects.filter(order=order).update(expires_at=timezone.now() - timedelta(seconds=1))
    for lookup in (
        lambda: pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk),
        lambda: pickup.find_by_qr(token=codes.qr_token, clerk=clerk),
        lambda: pickup.hand_over(order_id=order.pk, clerk=clerk),
    ):
        with pytest.raises(pickup.PickupError) as error:
            lookup()
        assert str(error.value) == pickup.NEUTRAL
    assert Order.objects.get(pk=order.pk).status == Order.Status.READY_FOR_PICKUP


@pytest.mark.django_db
def test_reissue_invalidates_the_old_codes(ready):
    order, old, clerk = ready()
    new = pickup.reissue(order=order, actor=order.user)
    assert new != old and pickup.codes_for(order) == new
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_code(number=order.number, code=old.typed, clerk=clerk)
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_qr(token=old.qr_token, clerk=clerk)
    assert pickup.find_by_code(number=order.number, code=new.typed, clerk=clerk) == order
    assert pickup.find_by_qr(token=new.qr_token, clerk=clerk) == order
    assert AuditEvent.objects.filter(action="pickup.codes_reissued", subject_id=str(order.pk)).exists()


@pytest.mark.django_db
def test_codes_are_issued_only_when_ready(fake_gateway, manager):
    order = paid_pickup_order()
    assert pickup.codes_for(order) is None and not PickupCode.objects.exists()
    delivery = order_awaiting_payment(fulfillment="delivery")
    with pytest.raises(pickup.PickupError, match="for delivery"):
        pickup.mark_ready(order=delivery, actor=manager)
    unpaid = order_awaiting_payment(fulfillment="pickup")
    with pytest.raises(pickup.PickupError, match="only paid pickup orders"):
        pickup.mark_ready(order=unpaid, actor=manager)


@pytest.mark.django_db
def test_only_staff_of_the_orders_store_mark_it_ready(fake_gateway, manager):
    order = paid_pickup_order()
    no_desk = UserFactory(is_staff=True)
    order.store.staff.add(no_desk)  # works there, but has neither the desk nor change_order
    with pytest.raises(pickup.PickupError, match="cannot mark"):
        pickup.mark_ready(order=order, actor=no_desk)
    with pytest.raises(pickup.PickupError, match="cannot mark"):
        pickup.mark_ready(order=order, actor=make_clerk(StoreFactory()))
    assert pickup.mark_ready(order=order, actor=make_clerk(order.store))


@pytest.mark.django_db
def test_a_clerk_of_another_store_gets_the_neutral_message_even_with_the_right_code(ready):
    order, codes, _ = ready()
    stranger = make_clerk(StoreFactory())
    for lookup in (
        lambda: pickup.find_by_code(number=order.number, code=codes.typed, clerk=stranger),
        lambda: pickup.find_by_qr(token=codes.qr_token, clerk=stranger),
        lambda: pickup.hand_over(order_id=order.pk, clerk=stranger),
    ):
        with pytest.raises(pickup.PickupError) as error:
            lookup()
        assert str(error.value) == pickup.NEUTRAL
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    assert order.wrong_code_count == 0  # a stranger cannot lock another store's order
    assert list(pickup.clerk_stores(stranger)) != [order.store]


@pytest.mark.django_db
def test_unknown_numbers_and_codes_are_neutral(ready):
    order, codes, clerk = ready()
    for number, code in [("ZZZZZ-ZZZZZ", codes.typed), (order.number, "0000-0000"), (order.number, "")]:
        with pytest.raises(pickup.PickupError) as error:
            pickup.find_by_code(number=number, code=code, clerk=clerk)
        assert str(error.value) == pickup.NEUTRAL
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_qr(token="0" * 32, clerk=clerk)


# --- Brute force ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_five_wrong_codes_lock_the_order_until_a_manager_releases_it(ready, manager):
    order, codes, clerk = ready()
    for _ in range(4):
        with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
            pickup.find_by_code(number=order.number, code="0000-0000", clerk=clerk)
    with pytest.raises(pickup.PickupError, match="locked"):
        pickup.find_by_code(number=order.number, code="0000-0000", clerk=clerk)
    # Locked: even the right code (and the QR) is refused, with a message saying why.
    with pytest.raises(pickup.PickupError, match="ask a Shop manager|Ask a Shop manager"):
        pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)
    with pytest.raises(pickup.PickupError, match="locked"):
        pickup.find_by_qr(token=codes.qr_token, clerk=clerk)
    with pytest.raises(pickup.PickupError, match="locked"):
        pickup.hand_over(order_id=order.pk, clerk=clerk)
    assert AuditEvent.objects.filter(action="pickup.order_locked", subject_id=str(order.pk)).count() == 1

    with pytest.raises(pickup.PickupError, match="Only a Shop manager"):
        pickup.release_lock(order=order, manager=clerk)
    pickup.release_lock(order=order, manager=manager)

    event = AuditEvent.objects.get(action="pickup.lock_released")
    assert event.actor_id == manager.pk and event.data["manager_id"] == manager.pk
    assert pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk) == order
    assert pickup.hand_over(order_id=order.pk, clerk=clerk).status == Order.Status.COLLECTED


@pytest.mark.django_db
def test_ten_wrong_codes_pause_the_clerks_desk_alert_managers_once_and_reset_after_the_window(
    ready, manager, settings, django_capture_on_commit_callbacks
):
    settings.SHOP_PICKUP_DESK_WINDOW_SECONDS = 2
    order, codes, clerk = ready()
    mail.outbox.clear()
    for _ in range(9):
        with pytest.raises(pickup.PickupError) as error:
            pickup.find_by_qr(token="f" * 32, clerk=clerk)
        assert not isinstance(error.value, pickup.DeskLocked)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(pickup.DeskLocked):
        pickup.find_by_qr(token="f" * 32, clerk=clerk)
    # Paused: even a right code is refused, with the clear message.
    with pytest.raises(pickup.DeskLocked, match="paused for 15 minutes"):
        pickup.find_by_qr(token=codes.qr_token, clerk=clerk)
    with pytest.raises(pickup.DeskLocked):
        pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert codes.typed not in mail.outbox[0].body and codes.qr_token not in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="pickup.desk_locked", actor_id=clerk.pk).count() == 1
    assert AuditEvent.objects.filter(action="pickup.wrong_code", actor_id=clerk.pk).count() == 10
    # Another clerk of the same store is not paused (the store limit is higher).
    colleague = make_clerk(order.store)
    assert pickup.find_by_qr(token=codes.qr_token, clerk=colleague) == order

    time.sleep(2.2)  # the window passes
    assert pickup.find_by_qr(token=codes.qr_token, clerk=clerk) == order


@pytest.mark.django_db
def test_wrong_codes_per_store_pause_the_stores_desk(ready, settings):
    settings.SHOP_PICKUP_WRONG_CODES_PER_STORE = 4
    order, codes, clerk = ready()
    colleague = make_clerk(order.store)
    for who in (clerk, colleague, clerk):
        with pytest.raises(pickup.PickupError):
            pickup.find_by_qr(token="f" * 32, clerk=who)
    with pytest.raises(pickup.DeskLocked):
        pickup.find_by_qr(token="f" * 32, clerk=colleague)
    with pytest.raises(pickup.DeskLocked):
        pickup.find_by_qr(token=codes.qr_token, clerk=clerk)


# --- Hand-over, expiry, reminders ---------------------------------------------------------------


@pytest.mark.django_db
def test_hand_over_captures_records_audits_and_emails(ready, fake_gateway, django_capture_on_commit_callbacks):
    order, codes, clerk = ready(price_minor=12000)
    assert pickup.id_check_required(order)
    mail.outbox.clear()
    with pytest.raises(pickup.PickupError, match="needs an ID check"):
        pickup.hand_over(order_id=order.pk, clerk=clerk)  # the clerk did not tick the ID check
    assert Order.objects.get(pk=order.pk).status == Order.Status.READY_FOR_PICKUP
    with django_capture_on_commit_callbacks(execute=True):
        pickup.hand_over(order_id=order.pk, clerk=clerk, id_checked=True)

    order.refresh_from_db()
    assert order.status == Order.Status.COLLECTED
    assert order.collected_by == clerk and order.collected_at is not None
    assert order.id_checked is True
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.CAPTURED and payment.captured_minor == order.total_minor
    assert fake_gateway.count("capture") == 1
    event = AuditEvent.objects.get(action="pickup.handed_over")
    assert event.actor_id == clerk.pk and event.data["id_check_required"] is True and event.data["id_checked"] is True
    assert PickupCode.objects.get(order=order).used_at is not None
    [message] = mail.outbox
    assert "collected" in message.subject and message.to == [order.email]
    assert codes.typed not in message.body


@pytest.mark.django_db
def test_id_check_threshold(ready, settings):
    order, _, _ = ready(price_minor=9999)
    assert not pickup.id_check_required(order)
    settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR = 9999
    assert pickup.id_check_required(order)


@pytest.mark.django_db
def test_expiry_voids_restocks_notifies_and_runs_twice_safely(ready, fake_gateway, django_capture_on_commit_callbacks):
    order, codes, clerk = ready()
    stock_before = Stock.objects.get(store=order.store).quantity
    mail.outbox.clear()
    later = order.pickup_deadline + timedelta(minutes=1)

    assert pickup.expire_uncollected(now=order.pickup_deadline - timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert pickup.expire_uncollected(now=later) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert pickup.expire_uncollected(now=later) == 0

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Payment.objects.get(order=order).status == Payment.Status.VOIDED
    assert fake_gateway.count("void") == 1
    assert Stock.objects.get(store=order.store).quantity == stock_before + 1
    assert [m.subject for m in mail.outbox] == [f"Storefront: your order {order.number} was not collected"]
    assert AuditEvent.objects.filter(action="pickup.expired").count() == 1
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)


@pytest.mark.django_db
def test_the_reminder_goes_once_a_day_before_the_deadline(ready):
    order, codes, _ = ready()
    mail.outbox.clear()
    assert pickup.send_reminders(now=order.pickup_deadline - timedelta(days=2)) == 0
    day_before = order.pickup_deadline - timedelta(hours=20)
    assert pickup.send_reminders(now=day_before) == 1
    assert pickup.send_reminders(now=day_before + timedelta(hours=1)) == 0
    [message] = mail.outbox
    assert "waiting for you" in message.subject and codes.typed not in message.subject


@pytest.mark.django_db
def test_beat_schedules_expiry_and_reminders(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"shop.orders.tasks.expire_uncollected_pickups", "shop.orders.tasks.send_pickup_reminders"} <= tasks


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clerks_handing_over_at_once_exactly_one_succeeds(fake_gateway):
    roles.sync_roles()
    manager = UserFactory(is_staff=True)
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    order = paid_pickup_order()
    pickup.mark_ready(order=order, actor=manager)
    clerks = [make_clerk(order.store) for _ in range(3)]
    results = run_at_once([partial(pickup.hand_over, order_id=order.pk, clerk=clerk) for clerk in clerks])

    assert sum(isinstance(r, Order) for r in results) == 1
    assert sum(isinstance(r, pickup.PickupError) for r in results) == 2, results
    assert fake_gateway.count("capture") == 1
    assert AuditEvent.objects.filter(action="pickup.handed_over").count() == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.COLLECTED
