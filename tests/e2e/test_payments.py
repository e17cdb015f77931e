"""Paying for orders in Chromium with the sandbox gateway's test cards.

The card number is typed into the gateway's iframe. Every request the page makes is recorded,
and afterwards no request, no database text, no e-mail and no log line may hold the number.
"""

import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from playwright.sync_api import expect

from shop.orders.models import Order
from shop.payments.models import Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUCCESS = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
THREE_D_SECURE = "4000 0000 0000 3220"


def _screenshot(page, name):
    """With SCREENSHOT_DIR set, keep a picture of the page for a person to look at."""
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], f"{name}.png"), full_page=True)


def _digits(number: str) -> str:
    return number.replace(" ", "")


@pytest.fixture
def requests_seen(page):
    """Every request of the page and its frames: (url, post data)."""
    seen: list[tuple[str, str]] = []
    page.on("request", lambda request: seen.append((request.url, request.post_data or "")))
    return seen


def _place_order(page, *, product_path, pickup):
    page.goto(product_path)
    page.get_by_label("Quantity", exact=True).fill("1")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/checkout/")
    if pickup:
        page.get_by_role("radio", name=re.compile(r"^Pickup in store")).check()
        page.get_by_label("Pickup store").select_option(label="Berlin Mitte")
    else:
        page.get_by_role("radio", name=re.compile(r"^Delivery")).check()
        page.get_by_label("Full name").fill("Sam Shopper")
        page.get_by_label("Street and number").fill("Invalidenstr. 1")
        page.get_by_label("Postal code").fill("10115")
        page.get_by_label("City", exact=True).fill("Berlin")
    page.get_by_label("E-mail").fill("guest@example.com")
    page.get_by_role("button", name="Place order").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Pay for order [0-9A-Z]{5}-[0-9A-Z]{5}$"))
    return Order.objects.get(number=heading.inner_text().rsplit(" ", 1)[1])


def _card_fields(page):
    return page.frame_locator("iframe[data-card-frame]")


def _pay_with(page, number, *, expiry="12/34", cvc="123"):
    fields = _card_fields(page)
    fields.get_by_label("Card number").fill(number)
    fields.get_by_label("Expiry date (MM/YY)").fill(expiry)
    fields.get_by_label("Security code (CVC)").fill(cvc)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def _assert_number_never_left_the_browser(number, requests_seen, mailoutbox, caplog):
    digits, spaced = _digits(number), number
    assert requests_seen, "no request was recorded"
    for url, body in requests_seen:
        for text in (url, body):
            assert digits not in text and spaced not in text, f"the card number was sent: {url}"
    assert any("/sandbox-gateway/tokens/" in url for url, _ in requests_seen), "the card was never tokenized"

    for model in apps.get_models():
        text_fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]
        if not text_fields:
            continue
        for row in model.objects.values_list(*text_fields):
            for value in row:
                text = str(value)
                assert digits not in text and spaced not in text, f"{model.__name__} holds the card number"
    for message in mailoutbox:
        assert digits not in str(message.message()) and spaced not in str(message.message())
    assert digits not in caplog.text and spaced not in caplog.text
    # The shop's own scanner agrees: no Luhn-valid number in any text column, the log or the mails.
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "shop.log"
        # Subjects and bodies: the MIME headers carry random Message-ID digits that are no card data.
        log.write_text(caplog.text + "".join(f"{message.subject}\n{message.body}\n" for message in mailoutbox))
        call_command("scan_for_card_numbers", "--logs", str(log), stdout=io.StringIO())


def test_pay_for_a_delivery_order_with_the_success_card(demo, page, requests_seen, mailoutbox, caplog):
    order = _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)
    expect(page.get_by_role("button", name="Pay €43.90")).to_be_visible()
    _screenshot(page, "pay_page")

    _pay_with(page, SUCCESS)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_role("status")).to_contain_text("Paid with Visa •••• 4242")
    expect(page.get_by_text("Paid", exact=True)).to_be_visible()
    expect(page.locator(".payment-summary")).to_contain_text("Captured")
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.captured_minor) == ("captured", 4390)
    _assert_number_never_left_the_browser(SUCCESS, requests_seen, mailoutbox, caplog)


def test_pay_for_a_pickup_order_only_authorizes(demo, page, requests_seen, mailoutbox, caplog):
    order = _place_order(page, product_path="/products/chefs-knife-20-cm/", pickup=True)

    _pay_with(page, SUCCESS)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_role("status")).to_contain_text("Payment authorized with Visa •••• 4242")
    expect(page.get_by_role("status")).to_contain_text("you pay when you collect")
    expect(page.locator(".payment-summary")).to_contain_text("Authorized")
    assert Payment.objects.get(order=order).status == "authorized"
    _assert_number_never_left_the_browser(SUCCESS, requests_seen, mailoutbox, caplog)


def test_3d_secure_card_completes_the_challenge_on_the_sandbox_bank_page(demo, page, requests_seen, mailoutbox, caplog):
    order = _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)

    _pay_with(page, THREE_D_SECURE)

    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox bank — test 3-D Secure")
    expect(page.get_by_text("Visa •••• 3220")).to_be_visible()
    _screenshot(page, "three_d_secure")
    assert Payment.objects.get(order=order).status == "requires_action"
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_role("status")).to_contain_text("Paid with Visa •••• 3220")
    assert Payment.objects.get(order=order).status == "captured"
    _assert_number_never_left_the_browser(THREE_D_SECURE, requests_seen, mailoutbox, caplog)


def test_declined_card_shows_the_message_and_the_next_attempt_passes_the_check(
    demo, page, requests_seen, mailoutbox, caplog
):
    order = _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)

    with page.expect_response(
        lambda response: response.url.endswith("/pay/") and response.request.method == "POST"
    ) as answer:
        _pay_with(page, DECLINE)
    assert answer.value.status == 402
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined. Try another card")
    _screenshot(page, "pay_declined")
    # The next attempt carries the proof-of-work check, which solves itself.
    expect(page.get_by_label("Automatic check")).to_have_text("Checking your browser… done")

    _pay_with(page, SUCCESS)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.get_by_role("status")).to_contain_text("Paid with Visa •••• 4242")
    assert list(Payment.objects.filter(order=order).order_by("created_at").values_list("status", flat=True)) == [
        "declined",
        "captured",
    ]
    _assert_number_never_left_the_browser(DECLINE, requests_seen, mailoutbox, caplog)
    _assert_number_never_left_the_browser(SUCCESS, requests_seen, mailoutbox, caplog)


def test_a_number_that_is_not_a_test_card_is_refused_in_the_iframe(demo, page, requests_seen):
    _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)

    _pay_with(page, "4111 1111 1111 1111")

    fields = _card_fields(page)
    number = fields.get_by_label("Card number")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description(re.compile("use one of the sandbox test cards"))
    expect(page.locator("[data-payment-status]")).to_contain_text("Check the card details")
    _screenshot(page, "pay_invalid_card")
    assert Payment.objects.count() == 0
    assert not any("/sandbox-gateway/tokens/" in url for url, _ in requests_seen)
    assert not any("4111111111111111" in url + body for url, body in requests_seen)


def test_a_signed_in_shopper_saves_the_card_and_pays_the_next_order_with_it(demo, page):
    page.goto("/account/login/")
    page.get_by_label("E-mail").fill("shopper@example.com")
    page.get_by_label("Password").fill("demo-shopper-2026")
    page.get_by_role("button", name="Sign in").click()
    _place_order(page, product_path="/products/oak-cutting-board/", pickup=False)
    page.get_by_label("Save this card for next time").check()
    _pay_with(page, SUCCESS)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order "))
    expect(page.locator(".messages")).to_contain_text("Paid with Visa •••• 4242")

    second = _place_order(page, product_path="/products/stoneware-mug/", pickup=True)
    page.get_by_role("radio", name=re.compile(r"^Visa •••• 4242")).check()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {second.number}")
    expect(page.locator(".messages")).to_contain_text("Payment authorized with Visa •••• 4242")
    assert Payment.objects.get(order=second).status == "authorized"
