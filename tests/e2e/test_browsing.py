"""Browsing the catalogue: filters, sort and pages that keep them, in a real browser."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _card_titles(page) -> list[str]:
    return [title.strip() for title in page.locator(".card-title").all_inner_texts()]


def test_shopper_filters_sorts_and_pages_through_a_category(demo, page):
    from shop.catalog.models import Category, Stock, Store
    from tests.factories import ProductFactory

    kitchen, mitte = Category.objects.get(slug="kitchen"), Store.objects.get(slug="berlin-mitte")
    for n in range(14):
        product = ProductFactory(name=f"Kitchen jar {n:02}", category=kitchen, price_minor=2000 + n * 100)
        Stock.objects.create(product=product, store=mitte, quantity=4)

    page.goto("/products/")
    form = page.get_by_role("form", name="Refine")
    form.get_by_label("Category").select_option(label="Kitchen")
    form.get_by_label("Sort by").select_option(label="Price: high to low")
    form.get_by_label("Price from").fill("20")
    form.get_by_label("In stock at").select_option(label="Berlin Mitte")
    form.get_by_role("button", name="Show products").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Kitchen")
    expect(page.get_by_text("In stock at Berlin Mitte")).to_be_visible()
    titles = _card_titles(page)
    assert len(titles) == 12 and titles[0] == "Chef's knife 20 cm", titles  # 69.00, the dearest
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "catalog_filtered_list.png"), full_page=True)

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"category=kitchen&sort=-price&min_price=20&store=berlin-mitte&page=2"))
    # The form still shows the filters on page 2; prices keep falling.
    expect(form.get_by_label("Category")).to_have_value("kitchen")
    expect(form.get_by_label("Price from")).to_have_value("20")
    assert _card_titles(page)[-1] == "Kitchen jar 00"

    # A price range that makes no sense is explained next to the field.
    form.get_by_label("Price from").fill("50")
    form.get_by_label("Price to").fill("10")
    form.get_by_role("button", name="Show products").click()
    expect(page.get_by_role("alert")).to_contain_text("The highest price must not be below the lowest.")
    page.screenshot(path=str(ARTIFACTS / "catalog_filter_error.png"), full_page=True)
