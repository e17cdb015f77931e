"""The order lifecycle end to end in Chromium, with the shop's real anti-hoarding settings:

- delivery: cart -> checkout -> pay (receipt e-mailed) -> the warehouse's dispatch desk ships it
  (tracking e-mailed) -> marks it delivered (e-mailed);
- an unpaid order shows its deadline on the pay page, and the shopper cancels it there.
"""

import os
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from shop.catalog.models import Stock
from shop.orders.models import Order
from tests.e2e.test_click_and_collect import _signs_in_to_the_admin, _staff_tab

pytestmark = [pytest.mark.browser, pytest.mark.hoarding, pytest.mark.django_db(transaction=True)]

WAREHOUSE_EMAIL, WAREHOUSE_PASSWORD = "warehouse@example.com", "demo-warehouse-2026"
TRACKING = "00340434161094042557"


def _screenshot(page, name):
    directory = os.environ.get("SCREENSHOT_DIR", "test-artifacts")
    os.makedirs(directory, exist_ok=True)
    page.screenshot(path=os.path.join(directory, f"{name}.png"), full_page=True)


def _place_delivery_order(page) -> Order:
    page.goto("/products/chefs-knife-20-cm/")
    page.get_by_label("Quantity", exact=True).fill("1")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/checkout/")
    page.get_by_role("radio", name=re.compile(r"^Delivery")).check()
    page.get_by_label("E-mail").fill("buyer@example.com")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Street and number").fill("Unter den Linden 1")
    page.get_by_label("Postal code").fill("10117")
    page.get_by_label("City").fill("Berlin")
    page.get_by_role("button", name="Place order").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Pay for order [0-9A-Z]{5}-[0-9A-Z]{5}$"), timeout=20_000)
    return Order.objects.get(number=heading.inner_text().rsplit(" ", 1)[1])


def _mails_for(order):
    return [m.subject for m in mail.outbox if order.number in m.subject]


def test_a_delivery_order_goes_from_cart_to_delivered_with_an_email_at_each_step(demo, page, browser, live_server):
    order = _place_delivery_order(page)
    assert _mails_for(order) == []  # placing an order mails nothing
    expect(page.get_by_test_id("payment-deadline")).to_contain_text("Your items are reserved until")

    fields = page.frame_locator("iframe[data-card-frame]")
    fields.get_by_label("Card number").fill("4242 4242 4242 4242")
    fields.get_by_label("Expiry date (MM/YY)").fill("12/34")
    fields.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}", timeout=20_000)
    assert any("receipt" in s for s in _mails_for(order))

    errors: list[str] = []
    context, desk = _staff_tab(browser, live_server, errors)
    desk.set_default_timeout(20_000)
    try:
        _signs_in_to_the_admin(desk, WAREHOUSE_EMAIL, WAREHOUSE_PASSWORD)
        expect(desk.get_by_role("link", name="Orders", exact=True)).to_have_count(0)  # the desk, nothing else
        desk.get_by_role("link", name="Dispatch desk").first.click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("Dispatch desk")
        card = desk.locator(f'article[data-order="{order.number}"]')
        expect(card).to_contain_text("Chef's knife")
        expect(card).to_contain_text("Ada Lovelace")
        _screenshot(desk, "dispatch_desk_to_ship")

        card.get_by_label("Carrier").select_option(label="DHL")
        card.get_by_label("Tracking number").fill("123")
        card.get_by_role("button", name=f"Mark order {order.number} shipped").click()
        expect(desk.locator(f'article[data-order="{order.number}"]')).to_contain_text("not a DHL tracking number")
        _screenshot(desk, "dispatch_desk_bad_tracking")

        card = desk.locator(f'article[data-order="{order.number}"]')
        card.get_by_label("Carrier").select_option(label="DHL")
        card.get_by_label("Tracking number").fill("0034 0434 1610 9404 2557")
        card.get_by_role("button", name=f"Mark order {order.number} shipped").click()
        expect(desk.get_by_text(f"Order {order.number} is shipped")).to_be_visible()
        _screenshot(desk, "dispatch_desk_shipped")

        desk.get_by_role("button", name=f"Mark order {order.number} delivered").click()
        expect(desk.get_by_text(f"Order {order.number} is marked delivered")).to_be_visible()
    finally:
        context.close()
    assert not errors, errors

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.tracking_number == TRACKING
    subjects = _mails_for(order)
    assert any("receipt" in s for s in subjects)
    assert any("on its way" in s for s in subjects)
    assert any("was delivered" in s for s in subjects)
    shipped = next(m for m in mail.outbox if "on its way" in m.subject)
    assert TRACKING in shipped.body and shipped.to == ["buyer@example.com"]

    page.goto(order.get_absolute_url())
    expect(page.get_by_text("Delivered", exact=False).first).to_be_visible()


def test_a_shopper_sees_the_deadline_and_cancels_an_unpaid_order(demo, page):
    order = _place_delivery_order(page)
    units = Stock.objects.get(store=order.store, product_id=order.lines.get().product_id).quantity
    _screenshot(page, "pay_page_deadline")
    page.get_by_role("button", name="Cancel this order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_text(f"Order {order.number} is cancelled. Nothing was charged")).to_be_visible()
    _screenshot(page, "order_cancelled")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Stock.objects.get(store=order.store, product_id=order.lines.get().product_id).quantity == units + 1
    assert _mails_for(order) == []  # a guest's typed address is never mailed for an unpaid order
