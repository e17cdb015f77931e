"""Click & collect end to end in Chromium: buy for pickup, pay, get the code by e-mail, collect at the desk.

The shopper and the clerk use two browser contexts (two people, two cookie jars). The test plays the
clerk's authenticator app (a TOTP code from the device's secret) and reads the pickup code from the
e-mail outbox, as the shopper would read it from their mailbox.
"""

import os
import re

import pytest
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from shop.accounts.models import User
from shop.orders.models import Order
from shop.payments.models import Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# seed_demo's people: the clerk works in Berlin Mitte, the Shop manager for every store.
CLERK_EMAIL, CLERK_PASSWORD = "clerk@example.com", "demo-clerk-2026"
MANAGER_EMAIL, MANAGER_PASSWORD = "manager@example.com", "demo-manager-2026"
CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})\b")


def _screenshot(page, name):
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], f"{name}.png"), full_page=True)


def _buy_for_pickup_and_pay(page) -> Order:
    page.goto("/products/chefs-knife-20-cm/")
    page.get_by_label("Quantity", exact=True).fill("1")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/checkout/")
    page.get_by_role("radio", name=re.compile(r"^Pickup in store")).check()
    page.get_by_label("Pickup store").select_option(label="Berlin Mitte")
    page.get_by_label("E-mail").fill("guest@example.com")
    page.get_by_role("button", name="Place order").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Pay for order [0-9A-Z]{5}-[0-9A-Z]{5}$"))
    order = Order.objects.get(number=heading.inner_text().rsplit(" ", 1)[1])

    fields = page.frame_locator("iframe[data-card-frame]")
    fields.get_by_label("Card number").fill("4242 4242 4242 4242")
    fields.get_by_label("Expiry date (MM/YY)").fill("12/34")
    fields.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_role("status")).to_contain_text("Payment authorized")
    return order


def _pickup_code_from_outbox(order) -> str:
    mails = [m for m in mail.outbox if order.number in m.body and CODE.search(m.body)]
    assert mails, "no ready-for-pickup e-mail with a code was sent"
    message = mails[-1]
    code = CODE.search(message.body).group(1)
    assert code not in message.subject
    return code


def _staff_tab(browser, live_server, errors: list[str]):
    """A tab in a browser context of its own (another person), collecting script errors."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda m: m.type == "error" and "status of" not in m.text and errors.append(m.text))
    return context, tab


def _signs_in_to_the_admin(tab, email, password):
    """Password, then the code the authenticator app shows (computed here from the device's secret)."""
    device = TOTPDevice.objects.get(user__email=email, confirmed=True)
    tab.goto("/admin/")
    expect(tab).to_have_url(re.compile(r"/account/login/\?next=/admin/$"))
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(re.compile(r"/account/login/verify/"))
    tab.get_by_label("Code").fill(f"{totp(device.bin_key):06d}")
    tab.get_by_role("button", name="Verify and sign in").click()
    expect(tab).to_have_url(re.compile(r"/admin/$"))


def _manager_marks_ready(browser, live_server, order, errors):
    context, tab = _staff_tab(browser, live_server, errors)
    try:
        _signs_in_to_the_admin(tab, MANAGER_EMAIL, MANAGER_PASSWORD)
        tab.goto(f"/admin/orders/order/?q={order.number}")
        tab.locator(f'input[name="_selected_action"][value="{order.pk}"]').check()
        tab.locator('select[name="action"]').select_option(value="mark_ready_for_pickup")
        tab.get_by_role("button", name=re.compile(r"^(Go|Run)$")).click()
        expect(tab.locator(".messagelist")).to_contain_text("Marked 1 order(s) ready for pickup")
    finally:
        context.close()


def test_a_shopper_buys_for_pickup_and_a_clerk_hands_the_order_over(demo, page, browser, live_server):
    errors: list[str] = []
    # The shopper buys for pickup in Berlin Mitte and pays with the sandbox's success card.
    order = _buy_for_pickup_and_pay(page)
    assert Payment.objects.get(order=order).status == "authorized"

    # A Shop manager marks it ready in the Order admin; the shopper gets the code by e-mail.
    _manager_marks_ready(browser, live_server, order, errors)
    code = _pickup_code_from_outbox(order)

    # The clerk, in their own browser, signs in with password + TOTP and opens the desk.
    context, desk = _staff_tab(browser, live_server, errors)
    try:
        _signs_in_to_the_admin(desk, CLERK_EMAIL, CLERK_PASSWORD)
        # A clerk's admin is the desk and nothing else.
        expect(desk.get_by_role("link", name="Users", exact=True)).to_have_count(0)
        expect(desk.get_by_role("link", name="Orders", exact=True)).to_have_count(0)
        _screenshot(desk, "admin_index_clerk")
        desk.get_by_role("link", name="Pickup desk").first.click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("Pickup desk")
        expect(desk.get_by_label("Scan the QR code")).to_be_focused()

        # Typed as heard at the counter: lower case, no dash.
        desk.get_by_label("Order number").fill(order.number.lower())
        desk.get_by_label("Pickup code").fill(code.replace("-", "").lower())
        desk.locator("form.desk-typed").get_by_role("button", name="Find order").click()

        found = desk.locator(".desk-order")
        expect(found.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
        expect(found).to_contain_text("Chef's knife")
        expect(found).to_contain_text("g***@example.com")
        assert "guest@example.com" not in desk.content()
        _screenshot(desk, "pickup_desk_found")

        found.get_by_role("button", name="Hand over").click()
        expect(desk.get_by_text(f"Order {order.number} handed over.")).to_be_visible()
        expect(desk.locator(".desk-order")).to_have_count(0)
        expect(desk.get_by_label("Scan the QR code")).to_be_focused()
        expect(desk.get_by_label("Scan the QR code")).to_have_value("")
        _screenshot(desk, "pickup_desk_handed_over")
    finally:
        context.close()
    assert not errors, errors

    order.refresh_from_db()
    assert order.status == Order.Status.COLLECTED
    assert order.collected_by == User.objects.get(email=CLERK_EMAIL)
    # The e-mails of the journey, in order: receipt on payment, ready with the code, collected.
    subjects = [m.subject for m in mail.outbox if order.number in m.subject]
    assert [
        next(i for i, s in enumerate(subjects) if word in s) for word in ("receipt", "ready", "collected")
    ] == sorted(next(i for i, s in enumerate(subjects) if word in s) for word in ("receipt", "ready", "collected"))
    assert all(m.to == ["guest@example.com"] for m in mail.outbox if order.number in m.subject)
    assert Payment.objects.get(order=order).status == "captured"

    # The shopper's order page says so.
    page.goto(order.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_text("Collected", exact=False).first).to_be_visible()
