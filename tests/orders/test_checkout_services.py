import pytest
from django.core import mail

from shop.catalog.models import Stock
from shop.core.models import AuditEvent
from shop.orders import emails, services
from shop.orders.models import CROCKFORD, Order
from tests.factories import StockFactory, StoreFactory, UserFactory

from .conftest import ADDRESS

pytestmark = pytest.mark.django_db


def place_pickup(cart, store, **kwargs):
    return services.place_order(cart=cart, email="ada@example.com", fulfillment="pickup", pickup_store=store, **kwargs)


def test_pickup_order_takes_stock_from_the_chosen_store_and_empties_the_cart(store, cart_with):
    cart = cart_with(quantity=3, stock=5, price_minor=1250)

    order = place_pickup(cart, store)

    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.store == store
    assert order.total_minor == 3750 and order.delivery_fee_minor == 0
    assert Stock.objects.get(store=store).quantity == 2
    assert not cart.lines.exists()


def test_order_keeps_a_snapshot_of_names_and_prices(store, cart_with):
    cart = cart_with(quantity=2, price_minor=990, name="Mug")
    order = place_pickup(cart, store)
    product = order.lines.get().product
    product.name, product.price_minor = "Renamed mug", 5000
    product.save()

    line = order.lines.get()
    assert (line.product_name, line.unit_price_minor, line.line_total_minor) == ("Mug", 990, 1980)


def test_delivery_below_the_threshold_pays_the_fee(store, cart_with, settings):
    settings.SHOP_DELIVERY_FEE_MINOR, settings.SHOP_FREE_DELIVERY_FROM_MINOR = 490, 5000
    cart = cart_with(quantity=1, price_minor=1000)

    order = services.place_order(cart=cart, email="a@example.com", fulfillment="delivery", shipping=ADDRESS)

    assert (order.subtotal_minor, order.delivery_fee_minor, order.total_minor) == (1000, 490, 1490)
    assert order.shipping_city == "Berlin" and order.store == store


def test_delivery_from_the_threshold_is_free(cart_with, settings):
    settings.SHOP_FREE_DELIVERY_FROM_MINOR = 5000
    cart = cart_with(quantity=5, price_minor=1000)
    order = services.place_order(cart=cart, email="a@example.com", fulfillment="delivery", shipping=ADDRESS)
    assert order.delivery_fee_minor == 0


def test_delivery_is_shipped_from_a_shipping_store_only(cart_with, store):
    store.ships_orders = False
    store.save()
    cart = cart_with(quantity=1)
    with pytest.raises(services.OutOfStock, match="ship"):
        services.place_order(cart=cart, email="a@example.com", fulfillment="delivery", shipping=ADDRESS)
    assert cart.lines.count() == 1


def test_order_is_refused_when_the_store_ran_out_meanwhile(store, cart_with):
    cart = cart_with(quantity=2, stock=5, name="Kettle")
    Stock.objects.update(quantity=1)

    with pytest.raises(services.OutOfStock, match=r"Kettle \(only 1 left\)"):
        place_pickup(cart, store)

    assert Stock.objects.get().quantity == 1
    assert cart.lines.get().quantity == 2
    assert not Order.objects.exists()


def test_pickup_needs_a_store_that_offers_pickup(cart_with):
    closed = StoreFactory(pickup_enabled=False)
    with pytest.raises(services.OrderError, match="Choose a store"):
        place_pickup(cart_with(), closed)


def test_empty_cart_cannot_be_ordered(store):
    with pytest.raises(services.CartError, match="empty"):
        place_pickup(services.open_cart(), store)


def test_a_second_place_order_for_the_same_cart_finds_it_empty(store, cart_with):
    cart = cart_with(quantity=1)
    place_pickup(cart, store)
    with pytest.raises(services.CartError, match="empty"):
        place_pickup(cart, store)
    assert Order.objects.count() == 1


def test_product_withdrawn_after_adding_blocks_checkout(store, cart_with):
    cart = cart_with(quantity=1, name="Old lamp")
    cart.lines.get().product.__class__.objects.update(is_active=False)
    with pytest.raises(services.CartError, match="Old lamp"):
        place_pickup(cart, store)


def test_order_numbers_are_random_not_sequential(store, cart_with):
    numbers = [place_pickup(cart_with(), store).number for _ in range(5)]
    assert len(set(numbers)) == 5
    assert all(len(n) == 11 and n[5] == "-" for n in numbers)
    assert all(set(n.replace("-", "")) <= set(CROCKFORD) for n in numbers)


def test_placing_an_order_is_audited_with_ids_only(store, cart_with):
    user = UserFactory(email="secret.person@example.com")
    order = place_pickup(cart_with(), store, user=user)
    event = AuditEvent.objects.get(action="order.placed")
    assert (event.actor_id, event.subject_type, event.subject_id) == (user.pk, "orders.order", str(order.pk))
    assert "secret.person" not in str(event.data)


def test_placing_an_order_sends_no_email_the_receipt_follows_the_payment(
    store, cart_with, django_capture_on_commit_callbacks
):
    """Nothing goes to a typed address before money moved (no mail relay); the receipt goes once."""
    with django_capture_on_commit_callbacks(execute=True):
        order = place_pickup(cart_with(name="Teapot"), store)
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        services.mark_order_paid(order=order)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert order.number in message.subject and "receipt" in message.subject and "Teapot" in message.body
    assert "/orders/guest/" in message.body  # a guest gets a signed link, not a bare order URL
    # Running the task again (a redelivery) sends nothing more.
    assert emails.send_notice(order_id=order.pk, kind="receipt") is False
    assert len(mail.outbox) == 1


def test_no_email_when_the_order_transaction_fails(store, cart_with, django_capture_on_commit_callbacks):
    cart = cart_with(quantity=2, stock=5)
    Stock.objects.update(quantity=0)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.OutOfStock):
        place_pickup(cart, store)
    assert mail.outbox == []


class TestTransitions:
    def test_cancelling_returns_the_units_to_the_store(self, store, cart_with):
        order = place_pickup(cart_with(quantity=3, stock=3), store)
        assert Stock.objects.get().quantity == 0

        services.cancel_order(order=order, reason="customer asked")

        assert Order.objects.get().status == Order.Status.CANCELLED
        assert Stock.objects.get().quantity == 3
        assert AuditEvent.objects.filter(action="order.cancelled").count() == 1

    def test_a_cancelled_order_cannot_be_cancelled_again(self, store, cart_with):
        order = place_pickup(cart_with(quantity=1, stock=1), store)
        services.cancel_order(order=order)
        with pytest.raises(services.IllegalTransition, match="is cancelled and cannot become cancelled"):
            services.cancel_order(order=order)
        assert Stock.objects.get().quantity == 1

    @pytest.mark.parametrize(
        ("status", "target", "allowed"),
        [
            ("awaiting_payment", "paid", True),
            ("awaiting_payment", "collected", False),
            ("awaiting_payment", "shipped", False),
            ("paid", "ready_for_pickup", True),
            ("paid", "shipped", True),
            ("ready_for_pickup", "collected", True),
            ("ready_for_pickup", "shipped", False),
            ("collected", "cancelled", False),
            ("shipped", "cancelled", False),
        ],
    )
    def test_only_listed_transitions_are_allowed(self, status, target, allowed):
        assert Order(status=status).can_become(target) is allowed

    def test_illegal_transition_raises_and_changes_nothing(self, store, cart_with):
        order = place_pickup(cart_with(), store)
        Order.objects.filter(pk=order.pk).update(status=Order.Status.COLLECTED)
        with pytest.raises(services.IllegalTransition):
            services.cancel_order(order=order)
        assert Order.objects.get().status == Order.Status.COLLECTED


def test_stock_in_another_store_is_untouched(store, cart_with):
    cart = cart_with(quantity=1)
    product = cart.lines.get().product
    other = StockFactory(product=product, quantity=7)
    place_pickup(cart, store)
    other.refresh_from_db()
    assert other.quantity == 7
