"""Passkeys in Chromium, with the DevTools protocol's virtual authenticator standing in for a
fingerprint reader (it answers every request with user verification, as after a touch).

The live server is opened as http://localhost:PORT (browsers refuse WebAuthn on an IP address),
so the relying party is "localhost" and the origin is the live server's URL.
"""

import base64
import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from shop.accounts import roles
from shop.orders import pickup
from tests.authenticator import Authenticator, register
from tests.factories import PASSWORD, UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "test-artifacts")


@pytest.fixture(autouse=True)
def _relying_party(settings, live_server):
    assert live_server.url.startswith("http://localhost:"), live_server.url
    settings.SHOP_PASSKEY_ORIGIN = live_server.url
    settings.SHOP_PASSKEY_RP_ID = "localhost"
    settings.ALTCHA_VERIFICATION_ENABLED = False


def _screenshot(tab, name):
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def virtual_authenticator(tab):
    """A platform authenticator with a fingerprint reader, in this tab's browser context."""
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return cdp, authenticator_id


def give_passkey(tab, user, *, name="Phone"):
    """A passkey registered earlier: its row in the database, its private key in the tab's authenticator."""
    cdp, authenticator_id = virtual_authenticator(tab)
    software = Authenticator()
    device = register(user, software, name=name)
    credential = software.credentials[-1]
    private_key = credential.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cdp.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator_id,
            "credential": {
                "credentialId": base64.b64encode(credential.credential_id).decode(),
                "isResidentCredential": True,
                "rpId": "localhost",
                "privateKey": base64.b64encode(private_key).decode(),
                "userHandle": base64.b64encode(credential.user_handle).decode(),
                "signCount": 0,
            },
        },
    )
    return device


def sign_in_with_password(tab, email, password=PASSWORD):
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in", exact=True).click()


def test_a_shopper_adds_a_passkey_signs_in_with_it_without_a_password_and_removes_it(page):
    user = UserFactory(email="ada@example.com", email_verified_at=timezone.now())
    cdp, authenticator_id = virtual_authenticator(page)
    page.goto("/account/login/")
    sign_in_with_password(page, user.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")

    # Security page -> Add a passkey (the password was just given: the step-up is fresh) -> name it.
    page.goto("/account/security/")
    page.get_by_role("link", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey")
    page.get_by_label("Name of this passkey").fill("This laptop")
    _screenshot(page, "passkey_add")
    page.get_by_role("button", name="Create passkey").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in and security")
    expect(page.get_by_text("Passkey “This laptop” was added")).to_be_visible()
    expect(page.get_by_test_id("passkey")).to_contain_text("This laptop")
    expect(page.get_by_test_id("passkey")).to_contain_text("not used yet")
    _screenshot(page, "passkey_security_page")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1
    assert WebAuthnCredential.objects.get(user=user).name == "This laptop"

    # Signed out, back in with the passkey alone: no e-mail, no password.
    page.get_by_role("button", name="Sign out").click()
    page.goto("/account/login/")
    passkey_form = page.get_by_role("form", name="Sign in with a passkey")
    expect(passkey_form).to_contain_text("No password needed")
    _screenshot(page, "passkey_login")
    passkey_form.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")

    # The passkey was just used, so the step-up is fresh: remove it.
    page.goto("/account/security/")
    expect(page.get_by_test_id("passkey")).to_contain_text("last used")
    page.get_by_role("link", name=re.compile(r"^Remove passkey This laptop")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove this passkey?")
    page.get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_text("Passkey “This laptop” was removed")).to_be_visible()
    expect(page.get_by_test_id("passkey")).to_have_count(0)
    assert not WebAuthnCredential.objects.filter(user=user).exists()


def test_a_shopper_confirms_with_the_passkey_and_a_clerk_with_password_and_passkey_hands_over(
    page, browser, live_server, monkeypatch, settings
):
    settings.SHOP_REQUIRE_STAFF_PASSKEY = True  # the production policy: the admin only on a passkey
    install_fake_gateway(monkeypatch)
    shopper = UserFactory(email="grace@example.com")
    give_passkey(page, shopper, name="Grace's phone")
    order = order_awaiting_payment(fulfillment="pickup", user=shopper)
    from tests.orders.test_pickup_views import paid, staff

    order = paid(order)
    settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR = order.total_minor  # a valuable order
    pickup.mark_ready(order=order, actor=staff(roles.MANAGER))
    page.goto("/account/login/")
    page.get_by_role("form", name="Sign in with a passkey").get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")

    # The order page holds the code back, and says why.
    page.goto(order.get_absolute_url())
    expect(page.get_by_text("we first ask for your passkey")).to_be_visible()
    expect(page.locator(".pickup-code")).to_have_count(0)
    _screenshot(page, "pickup_passkey_needed")
    page.get_by_role("link", name="Confirm with your passkey to show the pickup code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm with your passkey")
    _screenshot(page, "pickup_passkey_confirm")
    page.get_by_role("button", name="Confirm with passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    code = page.locator(".pickup-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    expect(page.locator("img.pickup-qr")).to_be_visible()

    # The clerk, in their own browser: password, then their passkey, then the desk.
    clerk = UserFactory(email="chris@example.com", is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    order.store.staff.add(clerk)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    desk = context.new_page()
    desk.set_default_timeout(10_000)
    desk.on("pageerror", lambda error: errors.append(str(error)))
    desk.on("console", lambda m: m.type == "error" and "status of" not in m.text and errors.append(m.text))
    try:
        give_passkey(desk, clerk, name="Counter key")
        desk.goto("/admin/pickup-desk/")
        expect(desk).to_have_url(re.compile(r"/account/login/\?next="))
        sign_in_with_password(desk, clerk.email)
        expect(desk.get_by_role("heading", level=1)).to_have_text("Confirm with your passkey")
        expect(desk.get_by_label("Code")).to_have_count(0)  # staff policy: no code instead
        _screenshot(desk, "staff_passkey_step")
        desk.get_by_role("button", name="Use your passkey").click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("Pickup desk")

        desk.get_by_label("Order number").fill(order.number)
        desk.get_by_label("Pickup code").fill(code)
        desk.locator("form.desk-typed").get_by_role("button", name="Find order").click()
        found = desk.locator(".desk-order")
        expect(found.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
        # A valuable order: the desk asks the clerk to confirm the photo ID check before Hand over.
        found.get_by_label(re.compile(r"^I checked the customer's photo ID")).check()
        found.get_by_role("button", name="Hand over").click()
        expect(desk.get_by_text(f"Order {order.number} handed over.")).to_be_visible()
    finally:
        context.close()
    assert not errors, errors
    order.refresh_from_db()
    assert order.status == "collected"
