"""Races that only a real database with row locks can settle: these run on PostgreSQL."""

import pytest

from shop.catalog.models import Stock
from shop.orders import services
from shop.orders.models import Order
from tests.concurrency import run_at_once
from tests.factories import ProductFactory, StockFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_buyers_for_three_units_make_exactly_three_orders():
    store = StoreFactory()
    stock = StockFactory(store=store, quantity=3)
    carts = []
    for _ in range(10):
        cart = services.open_cart()
        services.add_to_cart(cart=cart, product=stock.product, quantity=1)
        carts.append(cart)

    def buy(cart):
        return lambda: services.place_order(cart=cart, email="a@example.com", fulfillment="pickup", pickup_store=store)

    results = run_at_once([buy(cart) for cart in carts])

    assert sum(isinstance(r, Order) for r in results) == 3
    assert sum(isinstance(r, services.OutOfStock) for r in results) == 7
    assert Order.objects.count() == 3
    assert Stock.objects.get().quantity == 0


def test_a_double_clicked_place_order_makes_one_order():
    store = StoreFactory()
    stock = StockFactory(store=store, quantity=10)
    cart = services.open_cart()
    services.add_to_cart(cart=cart, product=stock.product, quantity=2)

    def place():
        return services.place_order(cart=cart, email="a@example.com", fulfillment="pickup", pickup_store=store)

    results = run_at_once([place, place, place])

    assert sum(isinstance(r, Order) for r in results) == 1
    assert all(isinstance(r, (Order, services.CartError)) for r in results)
    assert Stock.objects.get().quantity == 8


def test_carts_listing_products_in_opposite_order_do_not_deadlock():
    store = StoreFactory()
    first, second = ProductFactory(), ProductFactory()
    StockFactory(store=store, product=first, quantity=50)
    StockFactory(store=store, product=second, quantity=50)
    carts = []
    for index in range(8):
        cart = services.open_cart()
        for product in (first, second) if index % 2 else (second, first):
            services.add_to_cart(cart=cart, product=product, quantity=1)
        carts.append(cart)

    results = run_at_once(
        [
            (
                lambda c=cart: services.place_order(
                    cart=c, email="a@example.com", fulfillment="pickup", pickup_store=store
                )
            )
            for cart in carts
        ]
    )

    assert all(isinstance(r, Order) for r in results), results
    assert sorted(Stock.objects.values_list("quantity", flat=True)) == [42, 42]
