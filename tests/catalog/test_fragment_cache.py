"""Fragment caching of the catalogue pages: shared parts cached, personal parts never."""

import re

import pytest
from django.core.cache import cache
from django.template import engines
from django.test import Client
from django.urls import reverse

from shop.catalog import services
from shop.catalog.models import Product, Stock
from shop.orders import services as orders
from tests.factories import CategoryFactory, ProductFactory, StockFactory, StoreFactory

pytestmark = pytest.mark.django_db

BANNER = "consent-banner-heading"


def _badge(html: str) -> str:
    return re.search(r'<span class="badge">([^<]*)</span>', html).group(1)


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _nonce(response) -> str:
    return re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)


def test_two_shoppers_get_their_own_badge_banner_and_csrf_token_from_a_cached_page():
    mug = ProductFactory(name="Stoneware mug", price_minor=1290, description="Hand-glazed.")
    StockFactory(product=mug, quantity=9)
    alice, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)

    # Alice puts two mugs in her cart and accepts every purpose; Bob does neither.
    token = _csrf(alice.get(mug.get_absolute_url()).text)
    assert alice.post(reverse("orders:cart_add", args=[mug.slug]), {"quantity": "2", "csrfmiddlewaretoken": token})
    alice.post(reverse("consent:banner"), {"choice": "accept_all", "csrfmiddlewaretoken": token, "next": "/"})

    # Each page with a text that sits in one of its cached fragments.
    for url, cached_text in [
        (reverse("catalog:home"), "€12.90"),
        (reverse("catalog:product_list"), "€12.90"),
        (mug.get_absolute_url(), "Hand-glazed."),
    ]:
        first = alice.get(url)
        # A change that bypasses the catalogue version: whoever comes next sees the cached fragment.
        Product.objects.filter(pk=mug.pk).update(price_minor=9990, description="Changed.")
        second = bob.get(url)
        assert cached_text in first.text and cached_text in second.text, url  # one fragment, served twice
        assert _badge(first.text) == "2" and _badge(second.text) == "0", url
        assert BANNER not in first.text and BANNER in second.text, url
        assert _nonce(first) != _nonce(second)
        assert f'nonce="{_nonce(second)}"' in second.text and f'nonce="{_nonce(first)}"' not in second.text
        Product.objects.filter(pk=mug.pk).update(price_minor=1290, description="Hand-glazed.")

    # The CSRF token on the cached product page is each shopper's own: Bob's is refused for Alice.
    alice_token = _csrf(alice.get(mug.get_absolute_url()).text)
    bob_token = _csrf(bob.get(mug.get_absolute_url()).text)
    add = reverse("orders:cart_add", args=[mug.slug])
    assert alice.post(add, {"quantity": "1", "csrfmiddlewaretoken": bob_token}).status_code == 403
    assert alice.post(add, {"quantity": "1", "csrfmiddlewaretoken": alice_token}).status_code == 302


def test_a_price_change_in_the_admin_shows_at_once(admin_client, client):
    mug = ProductFactory(name="Mug", price_minor=1000)
    assert "€10.00" in client.get(reverse("catalog:product_list")).text
    mug.price_minor = 1500
    mug.save()  # what the admin's change form does
    for url in [reverse("catalog:product_list"), reverse("catalog:home")]:
        page = client.get(url).text
        assert "€15.00" in page and "€10.00" not in page


def test_a_description_change_shows_at_once_on_the_product_page(client):
    lamp = ProductFactory(description="Brass base.")
    assert "Brass base." in client.get(lamp.get_absolute_url()).text
    lamp.description = "Copper base."
    lamp.save()
    assert "Copper base." in client.get(lamp.get_absolute_url()).text


def test_an_order_taking_the_last_units_updates_the_cached_availability_and_stock_filter(client):
    store = StoreFactory(name="Mitte", slug="mitte", pickup_enabled=True)
    lamp = ProductFactory(name="Lamp")
    StockFactory(product=lamp, store=store, quantity=1)
    in_stock = {"store": "mitte"}
    assert "Lamp" in client.get(reverse("catalog:product_list"), in_stock).text
    assert "Only 1 left" in client.get(lamp.get_absolute_url()).text

    cart = orders.open_cart(user=None)
    orders.add_to_cart(cart=cart, product=lamp, quantity=1)
    orders.place_order(cart=cart, email="guest@example.com", fulfillment="pickup", pickup_store=store)
    assert Stock.objects.get(product=lamp).quantity == 0
    assert "Lamp" not in client.get(reverse("catalog:product_list"), in_stock).text
    assert "Out of stock" in client.get(lamp.get_absolute_url()).text


def test_the_version_survives_a_lost_cache_key_without_rewinding():
    first = services.catalogue_version()
    cache.delete(services.VERSION_KEY)
    assert int(services.catalogue_version()) > int(first)


def test_templates_are_loaded_through_the_cached_loader():
    loaders = engines["django"].engine.template_loaders
    assert [type(loader).__module__ for loader in loaders] == ["django.template.loaders.cached"]


def test_category_changes_reach_the_cached_menu(client):
    CategoryFactory(name="Kitchen")
    assert "Kitchen" in client.get(reverse("catalog:product_list")).text
    CategoryFactory(name="Garden")
    assert "Garden" in client.get(reverse("catalog:product_list")).text
