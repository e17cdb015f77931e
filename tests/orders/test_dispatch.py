"""Delivery fulfilment: the dispatch desk and its services. Warehouse staff of a store pack, ship
(validated carrier + tracking number, e-mailed) and mark delivered; beat marks the rest delivered."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone

from shop.accounts import roles
from shop.core.models import AuditEvent
from shop.orders import dispatch, tasks
from shop.orders.models import Order
from shop.payments import services as payments
from tests.factories import UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db
DESK = "/admin/dispatch-desk/"
DHL = "00340434161094042557"


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def staff(role, *stores):
    roles.sync_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for store in stores:
        store.staff.add(user)
    return user


def paid_delivery_order(**kwargs):
    order = order_awaiting_payment(fulfillment="delivery", **kwargs)
    payments.pay_order(order=order, token="tok_ok", idempotency_key=f"key-{order.pk}", return_url="/r/")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


@pytest.fixture
def desk(verified_login):
    def make(*stores, role=roles.WAREHOUSE):
        user = staff(role, *stores)
        client = Client()
        verified_login(client, user)
        return client, user

    return make


def ship(client, order, carrier="dhl", tracking=DHL):
    return client.post(DESK, {"action": "ship", "order_id": order.pk, "carrier": carrier, "tracking_number": tracking})


def test_warehouse_staff_see_their_stores_paid_delivery_orders_oldest_first(fake_gateway, desk):
    first, second = paid_delivery_order(), paid_delivery_order()
    Order.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=2))
    second.store = first.store
    Order.objects.filter(pk=second.pk).update(store=first.store)
    other = paid_delivery_order()
    client, _ = desk(first.store)

    page = client.get(DESK)

    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert page.text.index(first.number) < page.text.index(second.number)
    assert other.number not in page.text  # another store's order: nothing of it
    assert "Packing list" in page.text and "Ada Lovelace" in page.text
    assert '<label for="id_tracking_number_' in page.text


def test_mark_shipped_records_the_tracking_number_audits_and_emails_it(
    fake_gateway, desk, django_capture_on_commit_callbacks
):
    order = paid_delivery_order()
    client, clerk = desk(order.store)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = ship(client, order, tracking="0034 0434 1610 9404 2557")

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED and order.tracking_number == DHL and order.carrier == "dhl"
    assert order.shipped_by == clerk
    event = AuditEvent.objects.get(action="order.shipped")
    assert event.actor_id == clerk.pk and event.data == {"store_id": order.store_id, "carrier": "dhl"}
    [message] = mail.outbox
    assert "on its way" in message.subject and DHL in message.body and "dhl.de" in message.body


@pytest.mark.parametrize(
    ("carrier", "tracking", "message"),
    [
        ("dhl", "12345", "This is not a DHL tracking number"),
        ("ups", DHL, "This is not a UPS tracking number"),
        ("", DHL, "Choose the carrier that takes the parcel."),
        ("dhl", "", "Type or scan the parcel's tracking number."),
    ],
)
def test_a_wrong_tracking_number_is_refused_with_what_it_should_look_like(
    fake_gateway, desk, carrier, tracking, message
):
    order = paid_delivery_order()
    client, _ = desk(order.store)
    response = ship(client, order, carrier=carrier, tracking=tracking)
    assert response.status_code == 400
    assert message in response.text.replace("&#x27;", "'")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_staff_of_another_store_cannot_ship_it(fake_gateway, desk):
    order = paid_delivery_order()
    client, _ = desk(paid_delivery_order().store)
    response = ship(client, order)
    assert response.status_code == 409 and dispatch.NOT_YOURS in response.text
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_clerks_and_shoppers_have_no_dispatch_desk(fake_gateway, desk, verified_login):
    order = paid_delivery_order()
    clerk_client, _ = desk(order.store, role=roles.CLERK)
    assert clerk_client.get(DESK).status_code == 403
    assert Client().get(DESK).status_code == 302  # to the sign-in page


def test_an_unpaid_order_cannot_be_shipped(desk):
    order = order_awaiting_payment()
    client, user = desk(order.store)
    with pytest.raises(dispatch.DispatchError):
        dispatch.ship_order(order_id=order.pk, actor=user, carrier="dhl", tracking_number=DHL)


def test_mark_delivered_by_hand_and_the_shopper_is_told(fake_gateway, desk, django_capture_on_commit_callbacks):
    order = paid_delivery_order()
    client, clerk = desk(order.store)
    ship(client, order)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DESK, {"action": "deliver", "order_id": order.pk})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.delivered_at is not None and order.closed_at is not None
    assert AuditEvent.objects.get(action="order.delivered").data["how"] == "by hand"
    [message] = mail.outbox
    assert "delivered" in message.subject
    again = client.post(DESK, {"action": "deliver", "order_id": order.pk})
    assert again.status_code == 409


def test_beat_marks_orders_delivered_after_the_delivery_period(fake_gateway, desk, settings):
    settings.SHOP_AUTO_DELIVERED_DAYS = 10
    old, recent = paid_delivery_order(), paid_delivery_order()
    for order in (old, recent):
        client, user = desk(order.store)
        dispatch.ship_order(order_id=order.pk, actor=user, carrier="dhl", tracking_number=DHL)
    Order.objects.filter(pk=old.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=1))

    assert tasks.mark_overdue_deliveries() == 1
    assert tasks.mark_overdue_deliveries() == 0
    assert Order.objects.get(pk=old.pk).status == Order.Status.DELIVERED
    assert Order.objects.get(pk=recent.pk).status == Order.Status.SHIPPED
