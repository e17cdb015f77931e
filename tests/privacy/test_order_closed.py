"""A deferred erasure finishes as soon as its owner's last open order closes (orders' order_closed
signal), not at the next sweep; and a shipped order still defers it until it is delivered."""

import pytest
from django.contrib.auth.models import Group

from shop.accounts import roles
from shop.orders import dispatch
from shop.orders.models import Order
from shop.privacy import services
from shop.privacy.models import DataRequest
from shop.privacy.services import OPEN_ORDER_STATUSES
from tests.factories import UserFactory
from tests.orders.test_dispatch import DHL, paid_delivery_order
from tests.payments.fakes import install_fake_gateway

pytestmark = pytest.mark.django_db


def test_privacy_counts_every_status_that_is_not_closed_as_open():
    assert set(OPEN_ORDER_STATUSES) == set(Order.Status.values) - set(Order.CLOSED_STATUSES)


def test_delivering_the_last_open_order_finishes_the_deferred_erasure_at_once(
    monkeypatch, django_capture_on_commit_callbacks
):
    install_fake_gateway(monkeypatch)
    shopper = UserFactory(email="leaving@example.com")
    order = paid_delivery_order(user=shopper)
    roles.sync_roles()
    warehouse = UserFactory(is_staff=True)
    warehouse.groups.add(Group.objects.get(name=roles.WAREHOUSE))
    order.store.staff.add(warehouse)

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_erasure(subject=shopper)
    assert DataRequest.objects.get(pk=request.pk).status == DataRequest.Status.DEFERRED

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.ship_order(order_id=order.pk, actor=warehouse, carrier="dhl", tracking_number=DHL)
    assert DataRequest.objects.get(pk=request.pk).status == DataRequest.Status.DEFERRED  # shipped is still open

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.mark_delivered(order_id=order.pk, actor=warehouse)

    # No sweep ran: the signal resumed it.
    request.refresh_from_db()
    shopper.refresh_from_db()
    assert request.status == DataRequest.Status.DONE
    assert not shopper.is_active and "leaving" not in shopper.email
    order.refresh_from_db()
    assert order.shipping_name == "" and order.total_minor > 0  # kept for the accounts, without the person
