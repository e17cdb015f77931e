"""Shopping journeys a person could watch: Chromium drives the real pages against live_server.

Locators go by role and label, so each test also proves that the pages are labelled: a control a
screen reader cannot name is a control these tests cannot find.
"""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORDER_HEADING = re.compile(r"^Order ([0-9A-Z]{5}-[0-9A-Z]{5})$")


def _heading(page):
    return page.get_by_role("heading", level=1)


def _cart_link(page):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Cart"))


def _add_to_cart(page, *, quantity=1):
    page.get_by_label("Quantity", exact=True).fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()


def _cart_row(page, product_name):
    return page.locator("tr", has=page.get_by_role("link", name=product_name, exact=True))


def _order_number(page) -> str:
    # Placing the order leads to its payment page; "View order (pay later)" opens the order.
    expect(_heading(page)).to_have_text(re.compile(r"^Pay for order "))
    page.get_by_role("link", name="View order (pay later)").click()
    expect(_heading(page)).to_have_text(ORDER_HEADING)
    return ORDER_HEADING.match(_heading(page).inner_text().strip()).group(1)


def test_anonymous_shopper_buys_for_pickup_and_gets_a_receipt_after_paying(demo, page, mailoutbox):
    page.goto("/")
    expect(_heading(page)).to_contain_text("Order online")

    # Browse a category, open a product, add one.
    page.get_by_role("link", name="Kitchen", exact=True).first.click()
    expect(_heading(page)).to_have_text("Kitchen")
    page.get_by_role("link", name="Chef's knife 20 cm").click()
    expect(_heading(page)).to_have_text("Chef's knife 20 cm")
    _add_to_cart(page)
    expect(page.get_by_role("status")).to_contain_text("Added 1 × Chef's knife 20 cm to your cart")

    # Search from the header, open the result, add two.
    page.get_by_role("searchbox", name="Search products").fill("mug")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(_heading(page)).to_have_text("Results for “mug”")
    page.get_by_role("link", name="Stoneware mug").click()
    _add_to_cart(page, quantity=2)
    expect(page.get_by_role("status")).to_contain_text("Added 2 × Stoneware mug to your cart")
    expect(_cart_link(page)).to_contain_text("3")

    # The cart: both lines, their totals and the sum (12.90 × 2 + 69.00).
    _cart_link(page).click()
    expect(_heading(page)).to_have_text("Your cart")
    expect(page.get_by_label("Quantity of Stoneware mug")).to_have_value("2")
    expect(page.get_by_label("Quantity of Chef's knife 20 cm")).to_have_value("1")
    expect(_cart_row(page, "Stoneware mug")).to_contain_text("€25.80")
    expect(_cart_row(page, "Chef's knife 20 cm")).to_contain_text("€69.00")
    expect(page.locator(".summary")).to_contain_text("3 items")
    expect(page.locator(".summary")).to_contain_text("€94.80")

    # Checkout for pickup in a store.
    page.get_by_role("link", name="Go to checkout").click()
    expect(_heading(page)).to_have_text("Checkout")
    page.get_by_role("radio", name=re.compile(r"^Pickup in store")).check()
    page.get_by_label("Pickup store").select_option(label="Berlin Mitte")
    page.get_by_label("E-mail").fill("guest@example.com")
    page.get_by_role("button", name="Place order").click()

    number = _order_number(page)
    expect(page.get_by_text("Awaiting payment", exact=True)).to_be_visible()
    expect(page.locator("address")).to_contain_text("Rosenthaler Str. 40")
    expect(page.locator("address")).to_contain_text("10178 Berlin")
    expect(page.get_by_role("row", name=re.compile(r"^Total"))).to_contain_text("€94.80")
    expect(_cart_link(page)).to_contain_text("0")

    # Placing the order mails nothing (a typed address is no mail relay); paying sends the receipt.
    assert mailoutbox == []
    page.goto(f"/orders/{number}/pay/")
    fields = page.frame_locator("iframe[data-card-frame]")
    fields.get_by_label("Card number").fill("4242 4242 4242 4242")
    fields.get_by_label("Expiry date (MM/YY)").fill("12/34")
    fields.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("status")).to_contain_text("Payment authorized")

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["guest@example.com"]
    assert number in mail.subject and "receipt" in mail.subject
    assert f"Order number: {number}" in mail.body
    assert "Berlin Mitte" in mail.body


def test_signing_in_keeps_the_cart_and_the_order_shows_under_my_account(demo, page):
    page.goto("/products/oak-cutting-board/")
    _add_to_cart(page)
    expect(_cart_link(page)).to_contain_text("1")

    # Sign in from the header link; it brings the shopper back to the product.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    expect(_heading(page)).to_have_text("Sign in")
    page.get_by_label("E-mail").fill("shopper@example.com")
    page.get_by_label("Password").fill("demo-shopper-2026")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(_heading(page)).to_have_text("Oak cutting board")
    expect(page.get_by_role("link", name="My account")).to_be_visible()
    expect(_cart_link(page)).to_contain_text("1")

    _cart_link(page).click()
    expect(page.get_by_label("Quantity of Oak cutting board")).to_have_value("1")

    # Delivery to an address; the e-mail is the account's.
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_label("E-mail")).to_have_value("shopper@example.com")
    page.get_by_role("radio", name=re.compile(r"^Delivery")).check()
    page.get_by_label("Full name").fill("Sam Shopper")
    page.get_by_label("Street and number").fill("Invalidenstr. 1")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_label("City", exact=True).fill("Berlin")
    expect(page.get_by_label("Country")).to_have_value("DE")
    page.get_by_role("button", name="Place order").click()

    number = _order_number(page)
    expect(page.get_by_text("Awaiting payment", exact=True)).to_be_visible()
    expect(page.locator("address")).to_contain_text("Sam Shopper")
    expect(page.locator("address")).to_contain_text("Invalidenstr. 1")
    # 39.00 is below free delivery: 4.90 is added.
    expect(page.get_by_role("row", name=re.compile(r"^Total"))).to_contain_text("€43.90")

    page.get_by_role("link", name="My account").click()
    expect(_heading(page)).to_have_text("My account")
    order_row = page.locator("tr", has=page.get_by_role("link", name=number))
    expect(order_row).to_contain_text("Delivery")
    expect(order_row).to_contain_text("Awaiting payment")
    expect(order_row).to_contain_text("€43.90")


def test_more_than_in_stock_is_refused_with_a_message_on_the_product_page(demo, page):
    # The enamel coffee pot: one on the shelf in Berlin, none in Hamburg.
    page.goto("/products/enamel-coffee-pot/")
    with page.expect_response(lambda response: "/cart/add/" in response.url) as answer:
        _add_to_cart(page, quantity=2)
    assert answer.value.status == 409

    expect(_heading(page)).to_have_text("Enamel coffee pot")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("We could not add this to your cart")
    expect(alert).to_contain_text("Only 1 of Enamel coffee pot can be ordered.")
    quantity = page.get_by_label("Quantity", exact=True)
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(quantity).to_have_value("2")
    expect(_cart_link(page)).to_contain_text("0")

    # The summary's link leads to the field, and a smaller quantity then goes through.
    alert.get_by_role("link").click()
    expect(quantity).to_be_focused()
    _add_to_cart(page, quantity=1)
    expect(page.get_by_role("status")).to_contain_text("Added 1 × Enamel coffee pot to your cart")
    expect(_cart_link(page)).to_contain_text("1")
