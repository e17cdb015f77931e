"""Security operations in Chromium: a manager reads the dashboard; an officer runs a breach."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from shop.accounts import roles
from shop.operations.models import Incident, SubjectNotice
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _staff(email, role):
    user = UserFactory(email=email, first_name=email.split("@")[0].title(), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def _sign_in(page, device):
    page.goto("/admin/")
    page.get_by_label("E-mail").fill(device.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"), timeout=20_000)


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_manager_reads_the_security_dashboard(page):
    call_command("seed_demo", "--activity", stdout=io.StringIO())
    manager = _staff("boss@example.com", roles.MANAGER)
    _sign_in(page, manager)

    page.get_by_role("link", name="Security dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Security dashboard")
    for title in (
        "Sign-ins, failures and lockouts",
        "Proof-of-work challenges",
        "Two-step sign-in adoption",
        "Payments",
        "Refunds and chargebacks",
        "Data-subject requests",
        "Integrity and incidents",
    ):
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    charts = page.locator("img.ops-chart")
    expect(charts).to_have_count(7)
    for index in range(7):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
    # The numbers beside a chart, in a table.
    page.get_by_text("Numbers per day").first.click()
    expect(page.get_by_role("columnheader", name="Failed sign-ins")).to_be_visible()
    _screenshot(page, "operations_dashboard_30")

    page.get_by_role("link", name="90 days").click()
    expect(page).to_have_url(re.compile(r"days=90"))
    expect(page.get_by_text("90 days", exact=True)).to_have_attribute("aria-current", "page")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("security-dashboard-90-days-")


def test_an_officer_files_a_breach_notifies_subjects_and_records_the_authority(page):
    officer = _staff("officer@example.com", roles.COMPLIANCE)
    alice, bob = UserFactory(first_name="Alice"), UserFactory(first_name="Bob")
    _sign_in(page, officer)

    page.goto("/admin/operations/incident/add/")
    page.get_by_label("Title").fill("Customer list on a public share")
    page.get_by_label("Category").select_option("confidentiality")
    page.get_by_label("Severity").select_option("high")
    page.get_by_label("Personal-data breach").check()
    page.locator("#id_detected_at_0").fill("2026-12-01")
    page.locator("#id_detected_at_1").fill("08:00:00")
    page.locator("#id_became_aware_at_0").fill("2026-12-01")
    page.locator("#id_became_aware_at_1").fill("09:00:00")
    page.get_by_label("Description").fill("A CSV export was reachable through a public link for two days.")
    page.get_by_label("Contact data (name, e-mail, phone)").check()
    page.get_by_label("Affected subjects").select_option("list")
    page.get_by_label("Affected account ids").fill(f"{alice.pk}, {bob.pk}")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.get_by_test_id("breach-clock")).to_contain_text("72-hour clock")
    incident = Incident.objects.get()
    expect(page.get_by_text("Incident filed.")).to_be_visible()
    _screenshot(page, "operations_incident")

    page.get_by_role("link", name="Notify affected subjects").click()
    expect(page.get_by_text("2 account(s)")).to_be_visible()
    page.get_by_label("E-mail subject").fill("About our incident $reference")
    page.get_by_label("E-mail text").fill("Dear $first_name,\n\nyour name and e-mail address were exposed.")
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.get_by_text("Dear Alice,")).to_be_visible()
    page.get_by_role("button", name="I have read the preview: mark reviewed").click()
    mail.outbox.clear()
    page.get_by_role("button", name="Send to 2 subject(s)").click()
    expect(page.get_by_text("2 of 2 e-mails sent")).to_be_visible(timeout=20_000)
    expect(page.locator("progress#notify-progress")).to_have_attribute("value", "2")
    _screenshot(page, "operations_notify")
    assert SubjectNotice.objects.filter(notification__incident=incident).count() == 2

    page.get_by_role("link", name=incident.reference).click()
    page.get_by_label("Authority's case reference").fill("LfD-2026-0042")
    page.get_by_role("button", name="Record notification").click()
    expect(page.get_by_text("The authority notification is recorded; the reminders stop.")).to_be_visible()
    expect(page.get_by_test_id("breach-clock")).to_contain_text("Authority notified")
    incident.refresh_from_db()
    assert incident.authority_reference == "LfD-2026-0042"
