"""A shopper turns on two-step sign-in in Chromium, then signs in again with password and code.

The test plays the authenticator app: it reads the key typed-in users would copy from the page
and computes the codes from it, exactly as an app on a phone would.
"""

import re
import time
from base64 import b32decode

import pytest
from django.conf import settings
from django.utils.module_loading import import_string
from django_otp.oath import TOTP
from playwright.sync_api import expect

from shop.accounts import services
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _heading(page):
    return page.get_by_role("heading", level=1)


def _key_from_page(page) -> bytes:
    typed = page.get_by_test_id("totp-secret").inner_text()
    compact = "".join(typed.split())
    return b32decode(compact + "=" * (-len(compact) % 8))


def _code(key: bytes, *, steps_ahead: int = 0) -> str:
    """The app's code now, or `steps_ahead` 30-second windows later (a used window is refused)."""
    generator = TOTP(key)
    generator.time = time.time() + steps_ahead * generator.step
    return f"{generator.token():06d}"


def _step_up_was_long_ago(page) -> None:
    """Ten minutes after signing in pass in a moment: the session's step-up clock is moved back."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=cookie["value"])
    session[services.STEP_UP_AT] = time.time() - 11 * 60
    session.save()


def _sign_in(page, email):
    page.goto("/account/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_shopper_turns_on_two_step_sign_in_and_signs_in_with_a_code(page):
    shopper = UserFactory(email="sam@example.com")

    _sign_in(page, shopper.email)
    expect(_heading(page)).to_have_text("My account")
    _step_up_was_long_ago(page)

    # The security page: two-step sign-in is off, this browser is listed as this device.
    page.get_by_role("link", name="Sign-in and security").click()
    expect(_heading(page)).to_have_text("Sign-in and security")
    expect(page.get_by_test_id("two-step-status")).to_contain_text("Off")
    this_device = page.get_by_test_id("session").filter(has_text="This device")
    expect(this_device).to_contain_text(re.compile(r"Chrome \d+ on Linux"))

    # Turning it on asks for the password first.
    page.get_by_role("link", name="Turn on two-step sign-in").click()
    expect(_heading(page)).to_have_text("Confirm it is you")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    # Scan or type the key, confirm with the app's first code.
    expect(_heading(page)).to_have_text("Set up two-step sign-in")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    key = _key_from_page(page)
    page.get_by_label("Code from your app").fill(_code(key))
    page.get_by_role("button", name="Confirm").click()

    # The backup codes, shown once.
    expect(_heading(page)).to_have_text("Save your backup codes")
    expect(page.get_by_role("status")).to_contain_text("Two-step sign-in is on")
    codes = page.get_by_test_id("backup-codes").get_by_role("listitem")
    expect(codes).to_have_count(settings.SHOP_BACKUP_CODE_COUNT)
    expect(codes.first).to_have_text(re.compile(r"^[0-9a-z]{5}-[0-9a-z]{5}$"))
    page.get_by_role("link", name="I have saved them, continue").click()

    expect(_heading(page)).to_have_text("Sign-in and security")
    expect(page.get_by_test_id("two-step-status")).to_contain_text("On")
    expect(page.get_by_test_id("backup-codes-left")).to_have_text(str(settings.SHOP_BACKUP_CODE_COUNT))

    # Sign out, and back in: the password alone is no longer enough.
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, shopper.email)
    expect(_heading(page)).to_have_text("Enter your code")
    # The code of the next window: the one used to confirm cannot be used twice.
    page.get_by_label("Code").fill(_code(key, steps_ahead=1))
    page.get_by_role("button", name="Verify and sign in").click()

    expect(_heading(page)).to_have_text("My account")
    expect(page.get_by_text("Signed in as")).to_contain_text("sam@example.com")
