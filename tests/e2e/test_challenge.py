"""After three wrong passwords from one address, sign-in carries the proof-of-work check: in a
real browser it solves itself, under our CSP, and the right password then signs in."""

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, email, password):
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_after_three_wrong_passwords_the_check_solves_itself_and_the_right_password_signs_in(page, live_server):
    user = UserFactory(email="sam@example.com")
    page.goto("/account/login/")
    for _ in range(3):
        _sign_in(page, user.email, "not-my-password")
        expect(page.get_by_role("alert")).to_contain_text("do not match an account")

    # The page that said the third password was wrong already carries the check.
    expect(page.get_by_label("Automatic check")).to_have_text("Checking your browser… done")
    _sign_in(page, user.email, PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
