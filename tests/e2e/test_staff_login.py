"""A clerk signs in to the admin in Chromium: password first, then the code from their app.

The test plays the authenticator app: it computes the current code from the device's secret.
"""

import re

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from shop.accounts import roles
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clerk_device():
    clerk = UserFactory(email="clerk@example.com", first_name="Chris", is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    return TOTPDevice.objects.create(user=clerk, name="Phone", confirmed=True)


def test_a_clerk_signs_in_to_the_admin_with_password_and_code(page, clerk_device):
    page.goto("/admin/")

    # Sent to the shop's own sign-in, never the admin's password form.
    expect(page).to_have_url(re.compile(r"/account/login/\?next=/admin/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("E-mail").fill("clerk@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The password alone is not enough: the code from the app comes next.
    expect(page).to_have_url(re.compile(r"/account/login/verify/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    page.get_by_label("Code").fill(f"{totp(clerk_device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")
    # A clerk sees the pickup desk, and nothing a clerk may not touch (not even all stores' orders).
    expect(page.get_by_role("link", name="Pickup desk")).to_be_visible()
    expect(page.get_by_role("link", name="Orders", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
