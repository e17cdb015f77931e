"""Consent in the browser: the banner on the first visit, then the account page, under the CSP."""

import re

import pytest
from playwright.sync_api import expect

from shop.privacy.models import ConsentRecord, PageView
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _views() -> int:
    return sum(PageView.objects.values_list("count", flat=True))


def test_a_shopper_accepts_analytics_in_the_banner_and_withdraws_it_on_the_account_page(page):
    user = UserFactory(email="shopper@example.com")

    # First visit: the banner, with accept and reject side by side; nothing counted yet.
    page.goto("/")
    banner = page.get_by_role("region", name="Your privacy choices")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("button", name="Accept all")).to_be_visible()
    expect(banner.get_by_role("button", name="Reject all")).to_be_visible()
    assert _views() == 0

    # Choose each purpose: analytics only.
    banner.get_by_role("link", name="Choose").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy choices")
    page.get_by_label("Analytics").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("Your privacy choices are saved")
    page.goto("/")
    expect(page.get_by_role("region", name="Your privacy choices")).to_have_count(0)
    assert _views() >= 1

    # Sign in: the visitor's choices become the account's.
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="My account")).to_be_visible()

    page.goto("/account/privacy/consent/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My consents")
    page.get_by_role("button", name="Withdraw consent to Analytics").click()
    expect(page.get_by_role("status")).to_contain_text("Analytics: consent withdrawn.")
    expect(page.get_by_role("button", name="Give consent to Analytics")).to_be_visible()

    counted = _views()
    page.goto("/")
    page.goto("/products/")
    assert _views() == counted
    latest = ConsentRecord.objects.filter(user=user, purpose="analytics").first()
    assert latest.granted is False and latest.source == "account"


def test_the_banner_hides_without_a_reload_and_the_footer_reopens_the_choices(page):
    page.goto("/products/")
    page.get_by_role("region", name="Your privacy choices").get_by_role("button", name="Reject all").click()
    expect(page.get_by_role("region", name="Your privacy choices")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/products/$"))
    assert set(ConsentRecord.objects.values_list("granted", flat=True)) == {False}

    page.get_by_role("contentinfo").get_by_role("link", name="Privacy choices").click()
    expect(page.get_by_label("Analytics")).not_to_be_checked()
    expect(page.get_by_label("Marketing e-mail")).not_to_be_checked()
