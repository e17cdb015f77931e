"""At the counter: before a valuable pickup's code and QR are shown, a shopper who has a passkey
confirms with it, so that a stolen phone with an open session does not hand the order over."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.core.models import AuditEvent
from shop.orders import pickup
from tests.authenticator import Authenticator, options_on, register
from tests.factories import UserFactory
from tests.orders.test_pickup_views import paid, staff
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.SHOP_PASSKEY_ORIGIN = "http://localhost:8000"
    settings.SHOP_PASSKEY_RP_ID = "localhost"


@pytest.fixture
def valuable_pickup(monkeypatch, settings):
    """A ready pickup above the ID-check threshold, for an owner with a passkey."""
    install_fake_gateway(monkeypatch)
    owner = UserFactory()
    authenticator = Authenticator()
    register(owner, authenticator)
    order = paid(order_awaiting_payment(fulfillment="pickup", user=owner))
    settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR = order.total_minor
    codes = pickup.mark_ready(order=order, actor=staff(roles.MANAGER))
    client = Client()
    client.force_login(owner)
    return order, codes, client, authenticator


def test_the_code_is_hidden_until_the_owner_confirms_with_the_passkey(valuable_pickup):
    order, codes, client, authenticator = valuable_pickup

    page = client.get(order.get_absolute_url())
    assert page.status_code == 200
    assert codes.typed not in page.text and "data:image/svg+xml" not in page.text
    assert "we first ask for your passkey" in page.text  # the page says why
    confirm = f"{reverse('accounts:passkey_confirm')}?next={order.get_absolute_url()}"
    assert reverse("accounts:passkey_confirm") in page.text

    form = client.get(confirm)
    answer = authenticator.get(options_on(form))
    response = client.post(confirm, {"passkey": json.dumps(answer), "next": order.get_absolute_url()})

    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    page = client.get(order.get_absolute_url())
    assert codes.typed in page.text and "data:image/svg+xml" in page.text
    assert AuditEvent.objects.filter(action="passkey.used", data__purpose="presence").exists()


def test_a_wrong_passkey_answer_keeps_the_code_hidden(valuable_pickup):
    order, codes, client, _ = valuable_pickup
    confirm = f"{reverse('accounts:passkey_confirm')}?next={order.get_absolute_url()}"
    answer = Authenticator().get(options_on(client.get(confirm)), credential=_someone_elses_passkey())

    response = client.post(confirm, {"passkey": json.dumps(answer)})

    assert response.status_code == 400
    assert codes.typed not in client.get(order.get_absolute_url()).text


def test_a_confirmation_holds_only_a_few_minutes(valuable_pickup, settings):
    order, codes, client, authenticator = valuable_pickup
    confirm = f"{reverse('accounts:passkey_confirm')}?next={order.get_absolute_url()}"
    client.post(confirm, {"passkey": json.dumps(authenticator.get(options_on(client.get(confirm))))})
    settings.SHOP_PASSKEY_PRESENCE_SECONDS = -1  # as if the minutes went by

    assert codes.typed not in client.get(order.get_absolute_url()).text


def test_an_order_below_the_threshold_or_an_owner_without_passkey_shows_the_code_at_once(valuable_pickup, settings):
    order, codes, client, _ = valuable_pickup
    settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR = order.total_minor + 1

    assert codes.typed in client.get(order.get_absolute_url()).text


def _someone_elses_passkey():
    other = UserFactory()
    authenticator = Authenticator()
    register(other, authenticator)
    return authenticator.credentials[-1]
