"""A held order through the review desk in Chromium: the demo fraud pattern lands in the queue with its
reasons, a fraud analyst signs in with password + TOTP, reads the order and approves it; the order is
released (its payment captured, ready to ship). Then the model page of the trained version."""

import io
import os
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from shop.payments.models import Payment
from shop.risk import selectors
from shop.risk.models import Review
from tests.e2e.test_click_and_collect import _signs_in_to_the_admin, _staff_tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANALYST_EMAIL, ANALYST_PASSWORD = "fraud@example.com", "demo-fraud-2026"


def _screenshot(page, name):
    folder = os.environ.get("SCREENSHOT_DIR") or "test-artifacts"
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def test_a_fraud_analyst_approves_a_held_order_from_the_review_desk(demo, browser, live_server):
    call_command("seed_fraud_demo", "--history", stdout=io.StringIO())  # also demo labels + a trained model
    review = Review.objects.get(status=Review.Status.PENDING)
    assert Payment.objects.get(order_id=review.order_id).status == "authorized"  # held: not captured
    errors: list[str] = []
    context, tab = _staff_tab(browser, live_server, errors)
    try:
        _signs_in_to_the_admin(tab, ANALYST_EMAIL, ANALYST_PASSWORD)
        tab.get_by_role("link", name="Reviews").first.click()
        row = tab.locator("#result_list tbody tr").filter(has_text=review.order_number)
        expect(row).to_contain_text("Waiting for a reviewer")
        _screenshot(tab, "risk_review_queue")

        row.get_by_role("link", name=review.order_number).click()
        expect(tab.get_by_role("heading", name=re.compile(r"^Score \d+ of 100"))).to_be_visible()
        expect(tab.get_by_test_id("reasons")).to_contain_text("Disposable e-mail domain")
        expect(tab.get_by_test_id("reasons")).to_contain_text("units of one product")
        expect(tab.get_by_role("heading", name=re.compile(r"^Customer history"))).to_be_visible()
        _screenshot(tab, "risk_review_order")

        approve = tab.locator("form").filter(has=tab.get_by_role("button", name="Approve and release"))
        approve.get_by_label("Note for colleagues (no customer data)").fill("Called the customer; a school order.")
        approve.get_by_role("button", name="Approve and release").click()
        expect(tab.locator(".messagelist")).to_contain_text(f"Order {review.order_number} approved")
        _screenshot(tab, "risk_review_approved")

        # The model page: the nightly training's version with its validation metrics and features.
        tab.get_by_role("link", name="Model versions").first.click()
        tab.locator("#result_list tbody tr a").first.click()
        expect(tab.locator("#content-main table").first).to_contain_text("PR-AUC")
        expect(tab.get_by_role("heading", name=re.compile(r"^Features \(\d+\)"))).to_be_visible()
        _screenshot(tab, "risk_model_page")
    finally:
        context.close()
    assert not errors, errors

    assert not selectors.is_held(order_id=review.order_id)
    assert Payment.objects.get(order_id=review.order_id).status == "captured"  # released: can be shipped
