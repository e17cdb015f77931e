"""No value derived from a card number is stored unkeyed (PCI DSS 3.5.1).

The attack: read a saved card's fingerprint and last 4 from a database dump, then try the few
million numbers with that issuer prefix and last 4 until one hashes to the fingerprint. With an
unkeyed SHA-256 of the number that takes seconds; the shop must store nothing it can be done with.
"""

import hashlib
import hmac
import importlib

import pytest
from django.apps import apps

from shop.payments.fingerprints import keyed_fingerprint
from shop.payments.gateways.sandbox.models import SandboxToken, card_fingerprint
from shop.payments.models import PaymentMethod
from tests.factories import StockFactory, UserFactory
from tests.payments.test_sandbox import card_body, pay, place_order, post_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    return StockFactory(product__price_minor=2500, product__slug="teapot", store__name="Mitte", quantity=20)


NUMBER = "4242424242424242"


def _recoverable_from(stored: str) -> bool:
    """What the attacker's brute force checks: does some candidate number hash to the stored value?"""
    return stored in {hashlib.sha256(NUMBER.encode()).hexdigest(), hashlib.sha256(NUMBER[-4:].encode()).hexdigest()}


def test_the_sandbox_token_holds_no_hash_of_the_card_number(client):
    response = post_token(client, card_body(NUMBER))

    token = SandboxToken.objects.get(token=response.json()["token"])
    assert not _recoverable_from(token.fingerprint)
    assert token.fingerprint == card_fingerprint(brand="visa", last4="4242", exp_month=12, exp_year=2034)


def test_a_saved_card_stores_only_a_keyed_fingerprint(client, stock, settings):
    user = UserFactory()
    client.force_login(user)
    order = place_order(client, stock, email=user.email)

    pay(client, order, NUMBER, save_card="on")

    method = user.payment_methods.get()
    token = SandboxToken.objects.get(token=method.token)
    assert not _recoverable_from(method.fingerprint)
    expected = hmac.new(
        settings.CARD_FINGERPRINT_KEY.encode(), f"sandbox:{token.fingerprint}".encode(), hashlib.sha256
    ).hexdigest()
    assert method.fingerprint == expected
    # Without the key (which the database does not hold) the gateway's fingerprint gives nothing.
    settings.CARD_FINGERPRINT_KEY = "another-key"
    assert keyed_fingerprint(gateway="sandbox", fingerprint=token.fingerprint) != method.fingerprint


def test_the_same_card_saved_twice_is_one_saved_card(client, stock):
    user = UserFactory()
    client.force_login(user)
    for _ in range(2):
        pay(client, place_order(client, stock, email=user.email), NUMBER, save_card="on")

    assert user.payment_methods.count() == 1


def test_the_migration_replaces_unkeyed_hashes_of_card_numbers(settings):
    user = UserFactory()
    old = hashlib.sha256(NUMBER.encode()).hexdigest()
    fields = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    sandbox = PaymentMethod.objects.create(user=user, gateway="sandbox", token="tok_a", fingerprint=old, **fields)
    duplicate = PaymentMethod.objects.create(
        user=user, gateway="sandbox", token="tok_b", fingerprint="x" * 64, **fields
    )
    stripe = PaymentMethod.objects.create(
        user=user, gateway="stripe", token="pm_1", fingerprint="Xt5EWLLDS7FJjR1c", **fields
    )
    token = SandboxToken.objects.create(outcome="success", fingerprint=old, **fields)

    importlib.import_module("shop.payments.migrations.0003_keyed_card_fingerprints").key_fingerprints(apps, None)
    importlib.import_module(
        "shop.payments.gateways.sandbox.migrations.0002_fingerprints_without_the_digits"
    ).replace_fingerprints(apps, None)

    token.refresh_from_db()
    assert token.fingerprint == card_fingerprint(**fields)
    remaining = {method.pk: method.fingerprint for method in PaymentMethod.objects.all()}
    # The two sandbox rows were the same card: the newest stays.
    assert set(remaining) == {duplicate.pk, stripe.pk}
    assert remaining[duplicate.pk] == keyed_fingerprint(gateway="sandbox", fingerprint=token.fingerprint)
    assert remaining[stripe.pk] == keyed_fingerprint(gateway="stripe", fingerprint="Xt5EWLLDS7FJjR1c")
    assert sandbox.pk not in remaining and old not in remaining.values()
