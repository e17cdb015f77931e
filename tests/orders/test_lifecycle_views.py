"""The shopper's side of unpaid orders over HTTP: the deadline, cancelling their own order, and
the anti-hoarding answers of checkout (429 with what to do, the proof-of-work challenge)."""

import pytest
from django.test import Client
from django.urls import reverse

from shop.catalog.models import Stock
from shop.orders.models import Order
from tests.factories import StockFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    return StockFactory(quantity=40, product__name="Stoneware mug", product__price_minor=1290, store__name="Mitte")


def place(client, stock, quantity=1, email="guest@example.com"):
    client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": quantity})
    return client.post(
        reverse("orders:checkout"), {"email": email, "fulfillment": "pickup", "pickup_store": stock.store.pk}
    )


def test_the_pay_page_shows_the_deadline_and_a_cancel_button(client, stock):
    place(client, stock)
    order = Order.objects.get()
    page = client.get(reverse("pay:pay", args=[order.number]))
    assert page.status_code == 200
    assert "Your items are reserved until" in page.text and 'data-testid="payment-deadline"' in page.text
    assert reverse("orders:order_cancel", args=[order.number]) in page.text
    detail = client.get(order.get_absolute_url())
    assert "Cancel this order" in detail.text and "Your items are reserved" in detail.text


def test_a_guest_cancels_their_own_unpaid_order_with_a_post(client, stock):
    place(client, stock, quantity=3)
    order = Order.objects.get()
    assert Stock.objects.get().quantity == 37

    assert client.get(reverse("orders:order_cancel", args=[order.number])).status_code == 405
    response = client.post(reverse("orders:order_cancel", args=[order.number]))

    assert response.status_code == 302
    page = client.get(response.url)
    assert f"Order {order.number} is cancelled. Nothing was charged" in page.text
    assert Order.objects.get().status == Order.Status.CANCELLED and Stock.objects.get().quantity == 40


def test_nobody_else_can_cancel_an_order(client, stock):
    place(client, stock)
    order = Order.objects.get()
    stranger = Client()
    assert stranger.post(reverse("orders:order_cancel", args=[order.number])).status_code == 404
    assert Order.objects.get().status == Order.Status.AWAITING_PAYMENT


def test_cancelling_needs_the_csrf_token(stock):
    shopper = Client(enforce_csrf_checks=True)
    place(shopper, stock)  # the cart and checkout posts are refused too, so place it another way:
    assert Order.objects.count() == 0
    helper = Client()
    place(helper, stock)
    order = Order.objects.get()
    shopper.cookies = helper.cookies  # the shopper's own session, but a forged form without the token
    assert shopper.post(reverse("orders:order_cancel", args=[order.number])).status_code == 403
    assert Order.objects.get().status == Order.Status.AWAITING_PAYMENT


@pytest.mark.hoarding
def test_past_one_unpaid_order_checkout_asks_for_the_challenge(client, stock):
    place(client, stock)
    client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": 1})
    page = client.get(reverse("orders:checkout"))
    assert "Automatic check" in page.text
    response = client.post(
        reverse("orders:checkout"),
        {"email": "guest@example.com", "fulfillment": "pickup", "pickup_store": stock.store.pk},
    )
    assert response.status_code == 400 and Order.objects.count() == 1


@pytest.mark.hoarding
def test_the_fourth_open_order_of_a_session_gets_a_429_that_says_what_to_do(client, stock, settings):
    settings.SHOP_CHECKOUT_CHALLENGE_FROM_UNPAID = 100  # this test is about the count, not the puzzle
    for _ in range(3):
        assert place(client, stock).status_code == 302
    response = place(client, stock)
    assert response.status_code == 429
    assert "You already have 3 unpaid orders open. Pay for one of them or cancel it" in response.text
    assert response["Retry-After"]
    for order in Order.objects.all():
        assert reverse("pay:pay", args=[order.number]) in response.text
        assert reverse("orders:order_cancel", args=[order.number]) in response.text
    assert Order.objects.count() == 3


@pytest.mark.hoarding
def test_the_address_limit_counts_across_sessions_but_not_other_addresses(stock, settings):
    settings.SHOP_CHECKOUT_CHALLENGE_FROM_UNPAID = 100
    settings.SHOP_UNPAID_ORDERS_PER_ADDRESS = 2
    settings.SHOP_TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    office = [Client(HTTP_X_FORWARDED_FOR="198.51.100.7") for _ in range(3)]
    assert [place(c, stock).status_code for c in office] == [302, 302, 429]
    # The proxy's own address is shared by everyone; only the client address it reports counts.
    assert place(Client(HTTP_X_FORWARDED_FOR="198.51.100.8"), stock).status_code == 302


@pytest.mark.hoarding
def test_one_unpaid_order_cannot_take_more_than_its_share_of_a_store(client, settings):
    settings.SHOP_UNPAID_STOCK_SHARE_PERCENT = 25
    stock = StockFactory(quantity=8, product__name="Teapot", store=StoreFactory(pickup_enabled=True))
    response = place(client, stock, quantity=3)
    assert response.status_code == 429
    assert "one order can reserve at most 2 of Teapot" in response.text
    assert Stock.objects.get().quantity == 8 and Order.objects.count() == 0


def test_the_pay_page_after_the_deadline_says_the_time_ran_out(client, stock):
    from datetime import timedelta

    from django.utils import timezone

    place(client, stock)
    order = Order.objects.get()
    Order.objects.update(payment_due_at=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("pay:pay", args=[order.number]))
    assert response.status_code == 302
    assert "The time to pay for order" in client.get(response.url).text
