import pytest

from shop.orders import services
from shop.orders.models import Cart
from tests.factories import ProductFactory, StockFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_adding_a_product_twice_adds_up_the_quantity():
    stock = StockFactory(quantity=5)
    cart = services.open_cart()
    services.add_to_cart(cart=cart, product=stock.product, quantity=2)
    line = services.add_to_cart(cart=cart, product=stock.product, quantity=1)
    assert line.quantity == 3
    assert cart.lines.count() == 1


def test_cannot_add_more_than_one_store_holds():
    product = ProductFactory(name="Mug")
    StockFactory(product=product, quantity=2)
    StockFactory(product=product, quantity=3)
    cart = services.open_cart()
    with pytest.raises(services.CartError, match="Only 3 of Mug can be ordered"):
        services.add_to_cart(cart=cart, product=product, quantity=4)
    assert not cart.lines.exists()


def test_out_of_stock_product_cannot_be_added():
    product = ProductFactory(name="Lamp")
    StockFactory(product=product, quantity=0)
    with pytest.raises(services.CartError, match="Lamp is out of stock"):
        services.add_to_cart(cart=services.open_cart(), product=product, quantity=1)


def test_inactive_product_cannot_be_added():
    stock = StockFactory(product__is_active=False)
    with pytest.raises(services.CartError, match="no longer sold"):
        services.add_to_cart(cart=services.open_cart(), product=stock.product, quantity=1)


def test_setting_quantity_to_zero_removes_the_line():
    stock = StockFactory()
    cart = services.open_cart()
    services.add_to_cart(cart=cart, product=stock.product, quantity=2)
    services.set_cart_quantity(cart=cart, product=stock.product, quantity=0)
    assert not cart.lines.exists()


def test_quantity_change_is_checked_against_stock():
    stock = StockFactory(quantity=4)
    cart = services.open_cart()
    services.add_to_cart(cart=cart, product=stock.product, quantity=1)
    with pytest.raises(services.CartError, match="Only 4"):
        services.set_cart_quantity(cart=cart, product=stock.product, quantity=5)
    assert cart.lines.get().quantity == 1


def test_merging_at_login_adds_anonymous_lines_and_caps_at_stock():
    capped = StockFactory(quantity=3, product__name="Kettle")
    plain = StockFactory(quantity=9)
    user = UserFactory()
    mine = services.open_cart(user=user)
    services.add_to_cart(cart=mine, product=capped.product, quantity=2)
    anonymous = services.open_cart()
    services.add_to_cart(cart=anonymous, product=capped.product, quantity=2)
    services.add_to_cart(cart=anonymous, product=plain.product, quantity=1)

    notes = services.merge_carts(source=anonymous, target=mine)

    quantities = dict(mine.lines.values_list("product__name", "quantity"))
    assert quantities == {"Kettle": 3, plain.product.name: 1}
    assert notes == ["Only 3 of Kettle can be ordered; your cart was adjusted."]
    assert not Cart.objects.filter(pk=anonymous.pk).exists()
