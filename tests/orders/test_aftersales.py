"""Shop managers: cancel a paid order that has not shipped (full refund, units back, e-mail), and
record a return within the withdrawal period (partial refund allowed, restock)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shop.accounts import roles
from shop.catalog.models import Stock
from shop.core.models import AuditEvent
from shop.orders import dispatch, lifecycle, services
from shop.orders.models import Order, OrderReturn
from shop.payments.models import Payment
from tests.factories import UserFactory
from tests.orders.test_dispatch import DHL, paid_delivery_order
from tests.payments.fakes import install_fake_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def manager():
    roles.sync_roles()
    user = UserFactory(is_staff=True, email="manager@example.com")
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


def _units(order):
    return Stock.objects.get(store=order.store, product_id=order.lines.get().product_id).quantity


def _shipped(manager, **kwargs):
    order = paid_delivery_order(**kwargs)
    return dispatch.ship_order(order_id=order.pk, actor=manager, carrier="dhl", tracking_number=DHL)


def test_a_manager_cancels_a_paid_order_with_a_full_refund(fake_gateway, manager, django_capture_on_commit_callbacks):
    order = paid_delivery_order(quantity=2)
    held = _units(order)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel_paid_order(order=order, manager=manager)

    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert order.status == Order.Status.CANCELLED and _units(order) == held + 2
    assert payment.status == Payment.Status.REFUNDED and payment.refunded_minor == order.total_minor
    assert AuditEvent.objects.get(action="order.cancelled").actor_id == manager.pk
    subjects = sorted(m.subject for m in mail.outbox)
    assert any("was cancelled" in s for s in subjects) and any("refund" in s.lower() for s in subjects)
    assert all(m.to == [order.email] for m in mail.outbox)


def test_a_shipped_order_cannot_be_cancelled_only_returned(fake_gateway, manager):
    order = _shipped(manager)
    with pytest.raises(services.IllegalTransition, match="Record a return instead"):
        lifecycle.cancel_paid_order(order=order, manager=manager)


def test_a_return_refunds_part_and_restocks_what_is_sellable(fake_gateway, manager):
    order = _shipped(manager, quantity=3, price_minor=2000)
    held = _units(order)
    line = order.lines.get()

    record = lifecycle.record_return(
        order=order, manager=manager, refund_minor=4000, restock_lines={line.pk: 2}, note="one cracked", key="r1"
    )

    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert order.status == Order.Status.RETURNED
    assert (record.refunded_minor, record.restocked_units) == (4000, 2)
    assert payment.refunded_minor == 4000 and payment.status == Payment.Status.CAPTURED
    assert _units(order) == held + 2
    assert AuditEvent.objects.get(action="order.returned").data["amount_minor"] == 4000


def test_no_return_after_the_withdrawal_period(fake_gateway, manager, settings):
    settings.SHOP_RETURN_WINDOW_DAYS = 14
    order = _shipped(manager)
    dispatch.mark_delivered(order_id=order.pk, actor=manager)
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=14, hours=1))
    with pytest.raises(services.OrderError, match="return period"):
        lifecycle.record_return(order=order, manager=manager, refund_minor=100, restock_lines={}, key="late")
    assert OrderReturn.objects.count() == 0


def test_the_return_page_starts_empty_and_reads_10_comma_50(fake_gateway, manager, verified_login):
    order = _shipped(manager)
    client = Client()
    verified_login(client, manager)
    url = reverse("admin:orders_order_return", args=[order.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="amount"' in page.text and 'name="amount" value=' not in page.text
    line = order.lines.get()

    response = client.post(
        url,
        {
            "amount": "10,50",
            "note": "",
            f"restock_{line.pk}": "1",
            "idempotency_key": page.context["form"].initial["idempotency_key"],
        },
    )

    assert response.status_code == 302
    assert OrderReturn.objects.get().refunded_minor == 1050


def test_clerks_cannot_open_the_return_page(fake_gateway, manager, verified_login):
    order = _shipped(manager)
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.WAREHOUSE))
    client = Client()
    verified_login(client, clerk)
    assert client.get(reverse("admin:orders_order_return", args=[order.pk])).status_code == 403
