"""Saved cards on the account: listed for their owner only, deleted after a fresh step-up."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from shop.accounts import services as accounts
from shop.core.models import AuditEvent
from shop.payments.models import PaymentMethod
from tests.factories import UserFactory
from tests.payments.fakes import install_fake_gateway


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


pytestmark = pytest.mark.django_db

LIST = reverse("cards:list")


def saved_card(user, *, last4="4242", brand="Visa", token=None):
    return PaymentMethod.objects.create(
        user=user,
        gateway="sandbox",
        token=token or f"pm_{user.pk}_{last4}",
        brand=brand,
        last4=last4,
        exp_month=3,
        exp_year=2031,
        fingerprint=f"fp-{last4}",
    )


def signed_in(client, user, *, stepped_up_seconds_ago=None):
    client.force_login(user)
    session = client.session
    session[accounts.STEP_UP_AT] = 0 if stepped_up_seconds_ago is None else time.time() - stepped_up_seconds_ago
    session.save()
    return user


def test_the_cards_page_needs_a_signed_in_shopper(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_cards_page_lists_only_my_cards_without_their_tokens(client):
    me, someone = UserFactory(), UserFactory()
    saved_card(me, last4="4242", token="pm_mine_secret")
    saved_card(someone, last4="1881", brand="Mastercard")
    signed_in(client, me)

    response = client.get(LIST)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Visa" in page and "•••• 4242" in page and "03/2031" in page
    assert "1881" not in page and "Mastercard" not in page
    assert "pm_mine_secret" not in page


def test_the_account_page_links_to_the_saved_cards(client):
    signed_in(client, UserFactory())

    assert f'href="{LIST}"' in client.get(reverse("accounts:account")).content.decode()


def test_deleting_a_card_without_a_fresh_step_up_asks_to_confirm_it_is_you(client, fake_gateway):
    me = signed_in(client, UserFactory(), stepped_up_seconds_ago=60 * 60)
    card = saved_card(me)
    url = reverse("cards:delete", args=[card.pk])

    response = client.post(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:step_up"))
    assert "next=" in response.url and str(card.pk) in response.url
    assert PaymentMethod.objects.filter(pk=card.pk).exists()
    assert fake_gateway.count("detach") == 0


def test_deleting_a_card_after_a_step_up_detaches_it_at_the_gateway(client, fake_gateway):
    me = signed_in(client, UserFactory(), stepped_up_seconds_ago=10)
    card = saved_card(me, token="pm_to_forget")
    url = reverse("cards:delete", args=[card.pk])

    confirm = client.get(url)
    response = client.post(url, follow=True)

    assert confirm.status_code == 200
    assert "Delete this card?" in confirm.content.decode()
    assert response.redirect_chain == [(LIST, 302)]
    assert "Your Visa card ending in 4242 was removed." in [str(m) for m in response.context["messages"]]
    assert not PaymentMethod.objects.filter(pk=card.pk).exists()
    assert fake_gateway.calls == [("detach", {"token": "pm_to_forget"})]
    assert AuditEvent.objects.filter(action="payment_method.deleted", actor_id=me.pk).count() == 1


def test_a_get_never_deletes(client, fake_gateway):
    me = signed_in(client, UserFactory(), stepped_up_seconds_ago=10)
    card = saved_card(me)

    client.get(reverse("cards:delete", args=[card.pk]))

    assert PaymentMethod.objects.filter(pk=card.pk).exists()
    assert fake_gateway.count("detach") == 0


def test_another_users_card_is_not_deleted(client, fake_gateway):
    signed_in(client, UserFactory(), stepped_up_seconds_ago=10)
    theirs = saved_card(UserFactory(), token="pm_theirs")
    url = reverse("cards:delete", args=[theirs.pk])

    looked = client.get(url)
    response = client.post(url)

    assert looked.status_code == 404
    assert response.status_code == 404
    assert "That card is not saved on your account any more." in [str(m) for m in response.context["messages"]]
    assert PaymentMethod.objects.filter(pk=theirs.pk).exists()
    assert fake_gateway.count("detach") == 0


def test_deleting_needs_the_csrf_token(fake_gateway):
    client = Client(enforce_csrf_checks=True)
    me = signed_in(client, UserFactory(), stepped_up_seconds_ago=10)
    card = saved_card(me)

    response = client.post(reverse("cards:delete", args=[card.pk]))

    assert response.status_code == 403
    assert PaymentMethod.objects.filter(pk=card.pk).exists()
    assert fake_gateway.count("detach") == 0
