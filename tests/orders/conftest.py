import pytest

from shop.orders import services
from tests.factories import ProductFactory, StockFactory, StoreFactory


@pytest.fixture
def store():
    return StoreFactory(name="Mitte", pickup_enabled=True, ships_orders=True)


@pytest.fixture
def cart_with(store):
    """cart_with(quantity=2, stock=5, price_minor=1000) -> an anonymous cart holding one product stocked in `store`."""

    def make(*, quantity=1, stock=10, price_minor=1000, cart=None, **product_fields):
        product = ProductFactory(price_minor=price_minor, **product_fields)
        StockFactory(store=store, product=product, quantity=stock)
        cart = cart or services.open_cart()
        services.add_to_cart(cart=cart, product=product, quantity=quantity)
        return cart

    return make


ADDRESS = services.ShippingAddress(
    name="Ada Lovelace", street="Unter den Linden 1", postal_code="10117", city="Berlin", country="DE"
)
