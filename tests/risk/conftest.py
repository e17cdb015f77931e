import itertools

import pytest
from django.contrib.auth.models import Group

from shop.orders import services as orders
from shop.payments import services as payments
from shop.payments.gateways import base
from shop.risk.interface import Client
from tests.factories import CategoryFactory, ProductFactory, StockFactory, StoreFactory, UserFactory
from tests.payments.fakes import ADDRESS, FakeGateway, install_fake_gateway

_keys = itertools.count(1)


class CardsGateway(FakeGateway):
    """The fake provider, with one card (fingerprint) per token: "tok_ok:<card>" / "tok_decline:<card>"."""

    def charge(self, request):
        kind, _, card = request.token.partition(":")
        result = super().charge(base.ChargeRequest(**{**request.__dict__, "token": kind}))
        fingerprint = f"fp-{card or 'visa'}"
        return base.ChargeResult(
            status=result.status,
            reference=result.reference,
            decline_code=result.decline_code,
            card=base.Card(brand="Visa", last4="4242", exp_month=12, exp_year=2030, fingerprint=fingerprint),
        )


@pytest.fixture
def gateway(monkeypatch):
    fake = CardsGateway()
    install_fake_gateway(monkeypatch)
    from shop.payments import gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda name=None: fake)
    return fake


@pytest.fixture
def store():
    return StoreFactory(name="Mitte", pickup_enabled=True, ships_orders=True)


@pytest.fixture
def checkout(store):
    """checkout(**how) -> the placed order (or raises OrderError): one product line, through place_order."""

    def place(
        *,
        client=None,
        user=None,
        email="sam.shopper@example.com",
        fulfillment="delivery",
        quantity=1,
        price_minor=2500,
        category="books",
        shipping=ADDRESS,
    ):
        category_row = CategoryFactory(slug=f"{category}-{next(_keys)}") if category != "electronics" else None
        if category == "electronics":
            from shop.catalog.models import Category

            category_row = Category.objects.filter(slug="electronics").first() or CategoryFactory(
                slug="electronics", name="Electronics"
            )
        product = ProductFactory(price_minor=price_minor, category=category_row)
        StockFactory(store=store, product=product, quantity=quantity + 5)
        cart = orders.open_cart(user=user)
        orders.add_to_cart(cart=cart, product=product, quantity=quantity)
        return orders.place_order(
            cart=cart,
            email=email,
            fulfillment=fulfillment,
            user=user,
            pickup_store=store if fulfillment == "pickup" else None,
            shipping=shipping if fulfillment == "delivery" else None,
            client=client or Client(session_key="s-shopper", address="198.51.100.7", device_id="device-shopper-0001"),
        )

    return place


def pay(order, *, token="tok_ok", client=None, user=None):
    return payments.pay_order(
        order=order,
        token=token,
        idempotency_key=f"k-{next(_keys)}",
        return_url="/r/",
        user=user,
        client=client or Client(session_key="s-shopper", address="198.51.100.7", device_id="device-shopper-0001"),
    )


def analyst(**fields):
    from shop.accounts import roles

    user = UserFactory(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=roles.FRAUD))
    return user
