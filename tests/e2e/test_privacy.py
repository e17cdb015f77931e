"""Privacy in Chromium: a shopper gets a copy of their data; a compliance officer erases a shopper.

Celery runs eagerly in tests: a request's job runs as soon as the request is committed.
"""

import io
import json
import re
import time
import zipfile

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils.module_loading import import_string
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from shop.accounts import roles, services
from shop.accounts.models import User
from shop.orders.models import Order
from shop.privacy.models import DataRequest
from tests.factories import PASSWORD, StoreFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"


def _heading(page):
    return page.get_by_role("heading", level=1)


def _sign_in(page, email):
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _step_up_was_long_ago(page) -> None:
    """Ten minutes after signing in pass in a moment: the session's step-up clock is moved back."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=cookie["value"])
    session[services.STEP_UP_AT] = time.time() - 11 * 60
    session.save()


def _order(user, status):
    return Order.objects.create(
        user=user,
        email=user.email,
        status=status,
        fulfillment=Order.Fulfillment.DELIVERY,
        store=StoreFactory(),
        shipping_name="Robin Shopper",
        shipping_street="Hauptstrasse 1",
        shipping_postal_code="10115",
        shipping_city="Berlin",
        shipping_country="DE",
        subtotal_minor=2000,
        delivery_fee_minor=490,
        total_minor=2490,
        currency="EUR",
    )


def test_a_shopper_requests_a_copy_of_their_data_and_downloads_it(page):
    shopper = UserFactory(email="robin@example.com", first_name="Robin", last_name="Shopper")
    _order(shopper, Order.Status.SHIPPED)
    other = UserFactory(email="someone.else@example.com")
    _order(other, Order.Status.SHIPPED)

    page.goto("/account/login/")
    _sign_in(page, shopper.email)
    expect(_heading(page)).to_have_text("My account")
    _step_up_was_long_ago(page)

    page.goto("/account/privacy/")
    expect(_heading(page)).to_have_text("Your data")
    expect(page.get_by_text("You have made no requests.")).to_be_visible()
    page.get_by_role("button", name="Request a copy").click()

    # Sensitive: the password first, then back on the page to ask again.
    expect(_heading(page)).to_have_text("Confirm it is you")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(_heading(page)).to_have_text("Your data")
    page.get_by_role("button", name="Request a copy").click()

    expect(page.get_by_text("We are preparing a copy of your data")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile("Export")))
    expect(row).to_contain_text("Done")

    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    download = info.value
    assert re.fullmatch(r"storefront-data-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
    with open(download.path(), "rb") as raw:
        archive = zipfile.ZipFile(io.BytesIO(raw.read()))

    names = set(archive.namelist())
    assert {"README.json", "summary.html", "accounts.User.json", "orders.Order.json"} <= names
    account = json.loads(archive.read("accounts.User.json"))
    assert [row["email"] for row in account["rows"]] == ["robin@example.com"]
    orders = json.loads(archive.read("orders.Order.json"))
    assert [row["shipping_name"] for row in orders["rows"]] == ["Robin Shopper"]
    everything = b"".join(archive.read(name) for name in names)
    assert b"someone.else@example.com" not in everything


@pytest.fixture
def officer_device():
    officer = UserFactory(email="officer@example.com", first_name="Olga", is_staff=True)
    officer.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    return TOTPDevice.objects.create(user=officer, name="Phone", confirmed=True)


def test_a_compliance_officer_erases_a_shopper_from_the_admin(page, officer_device):
    shopper = UserFactory(email="pat@example.com", first_name="Pat", last_name="Person")
    order = _order(shopper, Order.Status.READY_FOR_PICKUP)

    page.goto("/admin/")
    _sign_in(page, "officer@example.com")
    expect(_heading(page)).to_have_text("Enter your code")
    page.get_by_label("Code").fill(f"{totp(officer_device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # File the erasure on the shopper's behalf, with how their identity was checked.
    page.goto("/admin/privacy/datarequest/add/")
    page.get_by_label("Subject").fill(str(shopper.pk))
    page.get_by_label("Kind").select_option("erasure")
    page.get_by_label("Identity check").fill("Asked by e-mail from the account's address; confirmed by reply.")
    page.get_by_role("button", name="Save", exact=True).click()

    # An order is still open: the erasure waits for it.
    request = DataRequest.objects.get(subject_ref=shopper.pk, kind=DataRequest.Kind.ERASURE)
    assert request.status == DataRequest.Status.DEFERRED
    assert request.requested_by_id == officer_device.user_id and request.identity_check
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COLLECTED)

    # Run it (again) from the queue.
    page.goto("/admin/privacy/datarequest/")
    page.get_by_role("row").filter(has_text="Erasure").get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("run_again")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("row").filter(has_text="Erasure")).to_contain_text("Done")

    # The account is anonymised; the order and its amounts remain, without the person.
    erased = User.objects.get(pk=shopper.pk)
    assert erased.email == f"erased-{shopper.pk}@invalid" and not erased.is_active
    assert (erased.first_name, erased.last_name) == ("", "")
    kept = Order.objects.get(pk=order.pk)
    assert kept.total_minor == 2490 and kept.shipping_name == "" and "pat@example.com" not in kept.email
