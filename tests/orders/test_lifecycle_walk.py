"""Walk Order.TRANSITIONS: every status that is not closed must have a way out that a person
(a service behind a desk or admin action) or a job (a beat task) takes. Each exit below is run for
real on an order in that status; a new status without an exit here fails the first test."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from shop.accounts import roles
from shop.orders import dispatch, lifecycle, pickup, tasks
from shop.orders.models import Order
from tests.factories import UserFactory
from tests.orders.test_dispatch import DHL, paid_delivery_order
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db
S = Order.Status


def _staff(role, store):
    roles.sync_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    store.staff.add(user)
    return user


def _paid_pickup():
    order = order_awaiting_payment(fulfillment="pickup")
    from shop.payments import services as payments

    payments.pay_order(order=order, token="tok_ok", idempotency_key=f"k-{order.pk}", return_url="/r/")
    order.refresh_from_db()
    return order


def _ready():
    order = _paid_pickup()
    pickup.mark_ready(order=order, actor=_staff(roles.CLERK, order.store))
    order.refresh_from_db()
    return order


def _shipped():
    order = paid_delivery_order()
    return dispatch.ship_order(
        order_id=order.pk, actor=_staff(roles.WAREHOUSE, order.store), carrier="dhl", tracking_number=DHL
    )


def _expire_by_beat(order):
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(minutes=1))
    tasks.expire_unpaid_orders()


def _hand_over(order):
    codes = pickup.codes_for(order)
    clerk = _staff(roles.CLERK, order.store)
    found = pickup.find_by_code(number=order.number, code=codes.typed, clerk=clerk)
    pickup.hand_over(order_id=found.pk, clerk=clerk, id_checked=True)


def _uncollected_by_beat(order):
    Order.objects.filter(pk=order.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    tasks.expire_uncollected_pickups()


def _delivered_by_beat(order):
    days = settings.SHOP_AUTO_DELIVERED_DAYS
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=days, minutes=1))
    tasks.mark_overdue_deliveries()


def _manager():
    roles.sync_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


# status: [(who takes it, make an order in that status, take the exit)]
EXITS = {
    S.AWAITING_PAYMENT: [
        ("beat: expire_unpaid_orders", order_awaiting_payment, _expire_by_beat),
        (
            "shopper: cancel on the pay or order page",
            order_awaiting_payment,
            lambda o: lifecycle.cancel_unpaid_order(order=o),
        ),
    ],
    S.PAID: [
        (
            "warehouse: Mark shipped",
            paid_delivery_order,
            lambda o: dispatch.ship_order(
                order_id=o.pk, actor=_staff(roles.WAREHOUSE, o.store), carrier="dhl", tracking_number=DHL
            ),
        ),
        ("clerk: Mark ready", _paid_pickup, lambda o: pickup.mark_ready(order=o, actor=_staff(roles.CLERK, o.store))),
        (
            "manager: cancel with refund",
            paid_delivery_order,
            lambda o: lifecycle.cancel_paid_order(order=o, manager=_manager()),
        ),
    ],
    S.READY_FOR_PICKUP: [
        ("clerk: Hand over", _ready, _hand_over),
        ("beat: expire_uncollected_pickups", _ready, _uncollected_by_beat),
    ],
    S.SHIPPED: [
        (
            "warehouse: Mark delivered",
            _shipped,
            lambda o: dispatch.mark_delivered(order_id=o.pk, actor=_staff(roles.WAREHOUSE, o.store)),
        ),
        ("beat: mark_overdue_deliveries", _shipped, _delivered_by_beat),
        (
            "manager: record a return",
            _shipped,
            lambda o: lifecycle.record_return(
                order=o, manager=_manager(), refund_minor=0, restock_lines={}, key=f"walk-{o.pk}"
            ),
        ),
    ],
}


@pytest.fixture(autouse=True)
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def test_every_status_that_is_not_closed_has_an_exit():
    open_statuses = {status for status in Order.TRANSITIONS if status not in Order.CLOSED_STATUSES}
    assert open_statuses == set(EXITS), "a status without a way out (or a stale entry in EXITS)"
    for status in Order.CLOSED_STATUSES:
        assert Order.TRANSITIONS[status] <= {S.RETURNED}  # closed: at most a return, nothing waits


def test_every_status_is_reachable_from_a_placed_order():
    reached, frontier = {S.AWAITING_PAYMENT}, [S.AWAITING_PAYMENT]
    while frontier:
        for target in Order.TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Order.Status)


@pytest.mark.parametrize(
    ("status", "who", "make", "leave"),
    [(status, who, make, leave) for status, exits in EXITS.items() for who, make, leave in exits],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_exit_really_leaves_its_status(status, who, make, leave):
    order = make()
    assert order.status == status
    leave(order)
    order.refresh_from_db()
    assert order.status != status, who
    assert order.status in Order.TRANSITIONS[status], who
