"""Every `next` goes through shop.core.redirects: hostile values are never followed, never a 500.

The review's case: `POST /account/confirm/?next=oops` after the right password answered 500
(Django's redirect() took "oops" for a view name), and the step-up had already rotated the
session, so the person was silently signed out. The consent form had the same flaw.
"""

import time

import pytest
from django.test import RequestFactory
from django.urls import reverse

from shop.accounts import services
from shop.core.redirects import safe_next
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "oops",
    "account",
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    " /account/",
    "/account/\r\nSet-Cookie: x=1",
    "/" + "a" * 5000,
    "%2F%2Fevil.example",
]


@pytest.mark.parametrize("candidate", HOSTILE)
def test_a_hostile_next_becomes_the_default(candidate):
    request = RequestFactory().get("/")

    assert safe_next(request, candidate, default="/fallback/") == "/fallback/"


@pytest.mark.parametrize("candidate", ["/account/", "/orders/ABC/?tab=items", "/products/?q=tea%20pot"])
def test_a_local_path_is_followed(candidate):
    assert safe_next(RequestFactory().get("/"), candidate, default="/") == candidate


def _stepped_up_long_ago(client):
    user = UserFactory()
    client.force_login(user)
    session = client.session
    session[services.STEP_UP_AT] = time.time() - 3600
    session.save()
    return user


@pytest.mark.parametrize("candidate", HOSTILE)
def test_step_up_with_a_hostile_next_lands_on_the_account_page_still_signed_in(client, candidate):
    _stepped_up_long_ago(client)

    response = client.post(reverse("accounts:step_up") + "?next=x", {"password": PASSWORD, "next": candidate})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:account")
    assert client.get(reverse("accounts:account")).status_code == 200  # not silently signed out


def test_step_up_with_next_in_the_query_string_only(client):
    _stepped_up_long_ago(client)

    response = client.post(reverse("accounts:step_up") + "?next=oops", {"password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("accounts:account")


@pytest.mark.parametrize("candidate", HOSTILE)
def test_sign_in_with_a_hostile_next_lands_on_the_account_page(client, candidate, settings):
    settings.ALTCHA_VERIFICATION_ENABLED = False
    user = UserFactory()

    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD, "next": candidate})

    assert response.status_code == 302 and response["Location"] == reverse("accounts:account")


# (The consent form strips spaces, so " /account/" is a local path there.)
@pytest.mark.parametrize("candidate", [c for c in HOSTILE if c != " /account/"])
def test_the_consent_banner_with_a_hostile_next_goes_home(client, candidate):
    response = client.post(reverse("consent:banner"), {"choice": "reject_all", "next": candidate})

    assert response.status_code == 302 and response["Location"] == "/"


def test_a_signed_in_shopper_opening_the_admin_gets_a_staff_only_page_not_a_loop(client):
    client.force_login(UserFactory())

    response = client.get("/admin/", follow=True)

    assert len(response.redirect_chain) <= 2
    assert response.status_code == 403
    assert "This area is for staff only" in response.content.decode()
    assert response.request["PATH_INFO"].startswith("/admin/")


def test_an_anonymous_visitor_opening_the_admin_is_sent_to_the_shop_sign_in(client):
    response = client.get("/admin/", follow=True)

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("accounts:login")
