"""The cart, checkout and order pages over HTTP: status codes, permissions, messages."""

import pytest
from django.urls import reverse

from shop.catalog.models import Stock
from shop.orders import guest_links
from shop.orders.models import CartLine, Order
from tests.factories import PASSWORD, ProductFactory, StockFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    return StockFactory(
        quantity=5, product__name="Stoneware mug", product__price_minor=1290, store__name="Berlin Mitte"
    )


DELIVERY = {
    "fulfillment": "delivery",
    "shipping_name": "Ann Example",
    "shipping_street": "Main St 1",
    "shipping_postal_code": "10115",
    "shipping_city": "Berlin",
    "shipping_country": "DE",
}


def add(client, product, quantity=1):
    return client.post(reverse("orders:cart_add", args=[product.slug]), {"quantity": quantity})


def checkout_pickup(client, store, email="guest@example.com"):
    return client.post(reverse("orders:checkout"), {"email": email, "fulfillment": "pickup", "pickup_store": store.pk})


class TestCart:
    def test_anonymous_visitor_adds_to_cart_and_sees_it(self, client, stock):
        response = add(client, stock.product, 2)
        assert response.status_code == 302
        page = client.get(reverse("orders:cart"))
        assert page.status_code == 200
        assert "Stoneware mug" in page.text and "€25.80" in page.text
        assert "no-store" in page["Cache-Control"]

    def test_success_message_says_what_happened(self, client, stock):
        page = client.get(add(client, stock.product, 2).url)
        assert "Added 2 × Stoneware mug to your cart" in page.text

    @pytest.mark.parametrize(
        ("quantity", "message"),
        [
            ("0", "Choose a quantity of at least 1."),
            ("-3", "Choose a quantity of at least 1."),
            ("abc", "Enter the quantity as a whole number."),
            ("", "Enter a quantity."),
            ("9999999999999999999999", "You can order at most 20 of one product."),
        ],
    )
    def test_bad_quantity_gets_a_400_with_a_clear_message(self, client, stock, quantity, message):
        response = add(client, stock.product, quantity)
        assert response.status_code == 400
        assert message in response.text
        assert not CartLine.objects.exists()

    def test_more_than_in_stock_gets_a_409_and_keeps_the_cart(self, client, stock):
        add(client, stock.product, 2)
        response = add(client, stock.product, 4)
        assert response.status_code == 409
        assert "Only 5 of Stoneware mug can be ordered and you already have 2 in your cart." in response.text
        assert CartLine.objects.get().quantity == 2

    def test_unknown_or_inactive_product_is_a_404_not_a_500(self, client):
        assert client.post(reverse("orders:cart_add", args=["no-such-thing"]), {"quantity": 1}).status_code == 404
        hidden = StockFactory(product__is_active=False).product
        assert add(client, hidden).status_code == 404

    def test_adding_needs_post(self, client, stock):
        assert client.get(reverse("orders:cart_add", args=[stock.product.slug])).status_code == 405

    def test_update_and_remove(self, client, stock):
        add(client, stock.product, 1)
        url = reverse("orders:cart_update", args=[stock.product.pk])
        assert client.post(url, {"quantity": 3}).status_code == 302
        assert CartLine.objects.get().quantity == 3
        bad = client.post(url, {"quantity": "lots"})
        assert bad.status_code == 400 and "whole number" in bad.text
        too_many = client.post(url, {"quantity": 6})
        assert too_many.status_code == 409 and "Only 5" in too_many.text
        assert CartLine.objects.get().quantity == 3
        client.post(reverse("orders:cart_remove", args=[stock.product.pk]))
        assert not CartLine.objects.exists()

    def test_a_visitor_cannot_touch_another_visitors_cart(self, client, stock):
        other = self._other_client_with_item(stock)
        client.post(reverse("orders:cart_remove", args=[stock.product.pk]))
        response = client.post(reverse("orders:cart_update", args=[stock.product.pk]), {"quantity": 4})
        assert response.status_code == 302
        assert CartLine.objects.get().quantity == 1
        assert "Stoneware mug" in other.get(reverse("orders:cart")).text

    @staticmethod
    def _other_client_with_item(stock):
        from django.test import Client

        other = Client()
        add(other, stock.product, 1)
        return other


class TestLoginMergesCart:
    def test_cart_follows_the_shopper_when_signing_in(self, client, stock):
        user = UserFactory(email="ann@example.com")
        add(client, stock.product, 2)
        response = client.post(reverse("accounts:login"), {"username": "ANN@example.com", "password": PASSWORD})
        assert response.status_code == 302
        assert CartLine.objects.get().cart.user == user
        assert "Stoneware mug" in client.get(reverse("orders:cart")).text

    def test_wrong_password_says_so_without_saying_which(self, client):
        UserFactory(email="ann@example.com")
        response = client.post(reverse("accounts:login"), {"username": "ann@example.com", "password": "wrong"})
        unknown = client.post(reverse("accounts:login"), {"username": "nobody@example.com", "password": "wrong"})
        assert response.status_code == unknown.status_code == 200
        assert "do not match an account" in response.text and "do not match an account" in unknown.text


class TestCheckout:
    def test_empty_cart_is_sent_back_with_a_message(self, client):
        response = client.get(reverse("orders:checkout"), follow=True)
        assert "Your cart is empty" in response.text

    def test_checkout_offers_only_stores_holding_everything(self, client, stock):
        StoreFactory(name="Empty shelves store")
        add(client, stock.product)
        page = client.get(reverse("orders:checkout"))
        assert page.status_code == 200
        assert "Berlin Mitte" in page.text and "Empty shelves store" not in page.text

    def test_guest_places_a_pickup_order_and_sees_it(self, client, stock):
        add(client, stock.product, 2)
        response = checkout_pickup(client, stock.store)
        order = Order.objects.get()
        # Placing the order leads to its payment page; the order page shows it awaiting payment.
        assert response.status_code == 302 and response.url == reverse("pay:pay", args=[order.number])
        page = client.get(order.get_absolute_url())
        assert page.status_code == 200
        assert "Awaiting payment" in page.text and order.number in page.text and "Berlin Mitte" in page.text
        assert "no-store" in page["Cache-Control"]
        assert Stock.objects.get().quantity == 3

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"fulfillment": "pickup"}, "Choose the store where you will collect your order."),
            ({"fulfillment": "delivery"}, "Enter street and number for delivery."),
            ({"fulfillment": "teleport"}, "Select a valid choice."),
            ({}, "Choose delivery or pickup."),
        ],
    )
    def test_incomplete_checkout_gets_a_400_and_keeps_the_cart(self, client, stock, data, message):
        add(client, stock.product)
        response = client.post(reverse("orders:checkout"), {"email": "a@example.com", **data})
        assert response.status_code == 400
        assert message in response.text
        assert not Order.objects.exists() and CartLine.objects.count() == 1

    def test_store_without_the_stock_cannot_be_forced_by_post(self, client, stock):
        elsewhere = StoreFactory(name="Elsewhere")
        add(client, stock.product)
        response = checkout_pickup(client, elsewhere)
        assert response.status_code == 400
        assert "That store cannot hold your order for pickup" in response.text
        assert not Order.objects.exists()

    def test_stock_gone_between_cart_and_order_gets_a_clear_409(self, client, stock):
        add(client, stock.product, 2)
        page = client.get(reverse("orders:checkout"))
        assert page.status_code == 200
        Stock.objects.update(quantity=1)
        response = checkout_pickup(client, stock.store)
        assert response.status_code in (302, 409)
        # The checkout page re-checks the cart first, so the shopper is sent to fix it.
        follow = client.get(reverse("orders:checkout"), follow=True)
        assert "no longer available" in follow.text
        assert not Order.objects.exists()

    def test_signed_in_shopper_gets_a_delivery_order_on_their_account(self, client, stock):
        user = UserFactory()
        client.force_login(user)
        add(client, stock.product)
        response = client.post(reverse("orders:checkout"), {"email": user.email, **DELIVERY})
        order = Order.objects.get()
        assert response.status_code == 302 and order.user == user
        account = client.get(reverse("accounts:account"))
        assert order.number in account.text and "no-store" in account["Cache-Control"]


class TestOrderVisibility:
    @pytest.fixture
    def order(self, client, stock):
        add(client, stock.product)
        checkout_pickup(client, stock.store)
        return Order.objects.get()

    def test_another_visitor_gets_a_404_for_a_guest_order(self, order):
        from django.test import Client

        assert Client().get(order.get_absolute_url()).status_code == 404

    def test_another_user_gets_a_404_for_a_users_order(self, client, stock):
        owner, intruder = UserFactory(), UserFactory()
        client.force_login(owner)
        add(client, stock.product)
        checkout_pickup(client, stock.store, email=owner.email)
        order = Order.objects.get()
        client.force_login(intruder)
        assert client.get(order.get_absolute_url()).status_code == 404

    def test_unknown_order_number_is_the_same_404(self, client):
        assert client.get(reverse("orders:order_detail", args=["ABCDE-FGHJK"])).status_code == 404

    def test_guest_link_from_the_email_opens_the_order_anywhere(self, order):
        from django.test import Client

        page = Client().get(guest_links.url_for(order), follow=True)
        assert page.status_code == 200 and order.number in page.text

    def test_the_guest_link_is_exchanged_for_a_session_grant_and_leaves_the_address_bar(self, order):
        from django.test import Client

        link = guest_links.url_for(order)
        visitor = Client()
        response = visitor.get(link)

        # The token leaves the address bar (and every later request line) at once.
        assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
        assert "no-store" in response["Cache-Control"]
        page = visitor.get(order.get_absolute_url())
        assert page.status_code == 200 and order.number in page.text
        assert link.rsplit("/", 2)[-2] not in page.text
        # Another device without the grant sees nothing at the plain URL, but the link still works there.
        other = Client()
        assert other.get(order.get_absolute_url()).status_code == 404
        assert other.get(link, follow=True).status_code == 200

    def test_forged_or_tampered_guest_link_is_a_404(self, client, order):
        other = Order.objects.create(
            email="x@example.com",
            fulfillment="pickup",
            store=order.store,
            subtotal_minor=1,
            total_minor=1,
            currency="EUR",
        )
        token = guest_links.url_for(order).rstrip("/").rsplit("/", 1)[1]
        forged = token.replace(order.number, other.number)
        assert client.get(reverse("orders:guest_order", args=[forged])).status_code == 404
        assert client.get(reverse("orders:guest_order", args=["garbage"])).status_code == 404

    def test_expired_guest_link_is_a_404(self, client, order, settings):
        settings.SHOP_GUEST_ORDER_LINK_MAX_AGE = -1
        assert client.get(guest_links.url_for(order)).status_code == 404


def test_cart_page_queries_do_not_grow_with_the_number_of_lines(client, django_assert_max_num_queries):
    store = StoreFactory()
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        StockFactory(store=store, product=product)
        add(client, product)
    with django_assert_max_num_queries(12) as three_lines:
        client.get(reverse("orders:cart"))
    baseline = len(three_lines)
    for _ in range(15):
        product = ProductFactory()
        StockFactory(store=store, product=product)
        add(client, product)
    with django_assert_max_num_queries(baseline):
        assert client.get(reverse("orders:cart")).status_code == 200


def test_delivery_cannot_be_chosen_when_no_store_can_ship_the_cart(client):
    stock = StockFactory(store__ships_orders=False, quantity=3)
    add(client, stock.product)
    response = client.post(reverse("orders:checkout"), {"email": "a@example.com", **DELIVERY})
    assert response.status_code == 400
    assert "We cannot ship this cart in one parcel; choose pickup in a store." in response.text
    assert not Order.objects.exists()
