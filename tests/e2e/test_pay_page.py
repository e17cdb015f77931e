"""The pay page's details in Chromium: "A new card" beside saved cards, a card frame that follows
its content when the window narrows, the expiry typed as 1230, and the test-mode banner."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from shop.accounts.models import User
from shop.payments.gateways.sandbox.models import SandboxToken, card_fingerprint
from shop.payments.models import Payment, PaymentMethod
from tests.e2e.test_payments import SUCCESS, _card_fields, _place_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _sign_in(page):
    page.goto("/account/login/")
    page.get_by_label("E-mail").fill("shopper@example.com")
    page.get_by_label("Password").fill("demo-shopper-2026")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def _save_a_card(user):
    card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    token = SandboxToken.objects.create(outcome="success", reusable=True, fingerprint=card_fingerprint(**card), **card)
    PaymentMethod.objects.create(user=user, gateway="sandbox", token=token.token, fingerprint="fp-e2e", **card)


def _frame_fits_its_content(page) -> bool:
    frame = page.locator("iframe[data-card-frame]")
    content = _card_fields(page).locator("[data-sandbox-fields]")
    frame_height = frame.evaluate("element => element.getBoundingClientRect().height")
    content_height = content.evaluate("element => element.getBoundingClientRect().height")
    return frame_height >= content_height


def test_a_shopper_with_a_saved_card_can_choose_a_new_card_and_types_the_expiry_as_1230(demo, page):
    _save_a_card(User.objects.get(email="shopper@example.com"))
    _sign_in(page)
    order = _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)

    expect(page.get_by_role("note")).to_contain_text("Test mode, no real payments.")
    saved = page.get_by_role("group", name="Pay with")
    expect(saved.get_by_role("radio", name=re.compile(r"^Visa •••• 4242"))).to_be_visible()
    new_card = saved.get_by_role("radio", name="A new card")
    expect(new_card).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pay_page_saved_cards.png"), full_page=True)

    # Opened wide, then narrowed to a phone: the frame grows with its wrapped fields.
    expect(_card_fields(page).get_by_label("Card number")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe[data-card-frame]');"
        " return f && f.getBoundingClientRect().height > 0; }"
    )
    for _ in range(50):
        if _frame_fits_its_content(page):
            break
        page.wait_for_timeout(100)
    assert _frame_fits_its_content(page), "the last line of the card fields is cut off"
    page.screenshot(path=str(ARTIFACTS / "pay_page_narrow.png"), full_page=True)

    new_card.check()
    fields = _card_fields(page)
    fields.get_by_label("Card number").fill(SUCCESS)
    fields.get_by_label("Expiry date (MM/YY)").fill("1230")
    fields.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}", timeout=30_000)
    payment = Payment.objects.get(order=order)
    assert payment.status == "captured"
    assert SandboxToken.objects.filter(reusable=False, exp_month=12, exp_year=2030).exists()
