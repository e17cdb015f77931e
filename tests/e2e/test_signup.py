"""A shopper signs up in the browser: the challenge solves itself, the link in the e-mail confirms
the address, and the new account signs in."""

import re

import pytest
from playwright.sync_api import expect

from shop.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "lantern-orchard-pebble-42"


def _heading(page):
    return page.get_by_role("heading", level=1)


def test_a_shopper_signs_up_confirms_the_address_and_signs_in(page, live_server, mailoutbox):
    page.goto("/account/login/")
    page.get_by_role("link", name="Create an account").click()
    expect(_heading(page)).to_have_text("Create an account")
    expect(page.get_by_label("Send me news and offers by e-mail")).not_to_be_checked()

    # A first try with a password that is too short: the form comes back with a new check.
    page.get_by_label("E-mail", exact=True).fill("maria@example.com")
    page.get_by_label("Password", exact=True).fill("too-short")
    page.get_by_label("Password again").fill("too-short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 12 characters")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    expect(page.get_by_label("Automatic check")).to_have_text("Checking your browser… done")
    page.get_by_role("button", name="Create account").click()
    expect(_heading(page)).to_have_text("Check your inbox")

    # The confirmation link from the e-mail: a page with one button.
    [message] = mailoutbox
    assert message.to == ["maria@example.com"]
    link = re.search(r"https?://\S+/account/verify/\S+/", message.body).group(0)
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    page.get_by_role("button", name="Confirm my e-mail address").click()
    expect(_heading(page)).to_have_text("Sign in")
    expect(page.get_by_role("status")).to_contain_text("your e-mail address is confirmed")

    page.get_by_label("E-mail", exact=True).fill("maria@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(_heading(page)).to_have_text("My account")
    expect(page.get_by_text("Signed in as maria@example.com")).to_be_visible()
    expect(page.get_by_role("button", name="Send a new confirmation link")).to_have_count(0)
    assert User.objects.get(email="maria@example.com").email_verified_at is not None


# Holds every SHA-256 digest until the test calls window.releaseChallenge(): a slow device.
_SLOW_DEVICE = """
const digest = crypto.subtle.digest.bind(crypto.subtle);
const released = new Promise((resolve) => { window.releaseChallenge = resolve; });
crypto.subtle.digest = (algorithm, data) => released.then(() => digest(algorithm, data));
"""


def test_a_form_sent_before_the_check_is_done_is_held_and_sent_when_it_is(page, live_server, mailoutbox):
    page.add_init_script(_SLOW_DEVICE)
    page.goto("/account/password-reset/")
    page.get_by_label("E-mail", exact=True).fill("someone@example.com")
    page.get_by_role("button", name="Send the link").click()

    expect(page.get_by_label("Automatic check")).to_contain_text("the form is sent as soon as this is done")
    expect(_heading(page)).to_have_text("Reset your password")

    page.evaluate("window.releaseChallenge()")
    expect(_heading(page)).to_have_text("Check your inbox")
