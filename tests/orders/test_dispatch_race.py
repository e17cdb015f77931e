"""Two members of staff press Mark shipped for one order at the same moment (PostgreSQL row locks)."""

import pytest
from django.core import mail

from shop.orders import dispatch
from shop.orders.models import Order
from tests.concurrency import run_at_once
from tests.orders.test_dispatch import DHL, paid_delivery_order, staff
from tests.payments.fakes import install_fake_gateway

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_staff_shipping_one_order_at_once_ship_it_once(monkeypatch):
    from shop.accounts import roles

    install_fake_gateway(monkeypatch)
    order = paid_delivery_order()
    first, second = staff(roles.WAREHOUSE, order.store), staff(roles.WAREHOUSE, order.store)
    mail.outbox.clear()

    results = run_at_once(
        [
            lambda: dispatch.ship_order(order_id=order.pk, actor=first, carrier="dhl", tracking_number=DHL),
            lambda: dispatch.ship_order(
                order_id=order.pk, actor=second, carrier="ups", tracking_number="1Z999AA10123456784"
            ),
        ]
    )

    shipped = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, dispatch.DispatchError)]
    assert len(shipped) == 1 and len(refused) == 1, results
    assert "shipped already" in str(refused[0])
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert (order.carrier, order.shipped_by_id) == (shipped[0].carrier, shipped[0].shipped_by_id)
    assert len(mail.outbox) == 1  # one "on its way" e-mail
