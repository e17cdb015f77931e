import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from shop.orders import services, tasks
from shop.orders.models import Order
from tests.factories import StockFactory, StoreFactory


def _pickup_order(*, paid=True):
    """A pickup order; paid (the receipt is due) unless told otherwise."""
    store = StoreFactory()
    stock = StockFactory(store=store, quantity=5, product__name="Teapot")
    cart = services.open_cart()
    services.add_to_cart(cart=cart, product=stock.product, quantity=1)
    order = services.place_order(cart=cart, email="buyer@example.com", fulfillment="pickup", pickup_store=store)
    return services.mark_order_paid(order=order) if paid else order


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_sends_the_receipt(celery_app, celery_worker):
    """The whole pipeline: payment commits -> message on Redis -> worker thread -> e-mail sent once."""
    order = _pickup_order()  # transaction=True: on_commit fires for real, the task goes to Redis

    # The worker sends inside its transaction and commits the mark right after: wait for both.
    def sent_and_marked():
        return mail.outbox and Order.objects.filter(pk=order.pk, confirmation_sent_at__isnull=False).exists()

    deadline = time.monotonic() + 20
    while not sent_and_marked() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    assert order.number in mail.outbox[0].subject
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None


@pytest.mark.django_db
def test_sweeper_resends_confirmations_that_never_went_out(django_capture_on_commit_callbacks):
    order = _pickup_order()  # outside a captured commit: the task never ran
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    _pickup_order(paid=False)  # an unpaid order has no receipt to send
    Order.objects.filter(status=Order.Status.AWAITING_PAYMENT).update(updated_at=timezone.now() - timedelta(minutes=10))

    assert tasks.sweep_order_confirmations() == 1
    assert len(mail.outbox) == 1
    assert tasks.sweep_order_confirmations() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_sweeper_leaves_fresh_orders_to_their_own_task():
    _pickup_order()
    assert tasks.sweep_order_confirmations() == 0
    assert mail.outbox == []
