"""A shopper asks for a copy of their data while the job queue (the Celery broker) is down: the
page says the request is queued, and it is done once the broker is back and the sweeper runs."""

import re
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from playwright.sync_api import expect

from shop.accounts import services as account_services
from shop.celery import app
from shop.privacy import tasks
from shop.privacy.models import DataRequest
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    settings.PRIVACY_EXPORT_SPOOL_DIR = tmp_path / "spool"


@pytest.fixture
def broker_down():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    original = app.conf.broker_url
    app.conf.task_always_eager = False  # the autouse fixture restores it
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.broker_url = original
    app._pool = None
    app.amqp._producer_pool = None


def test_a_request_filed_while_the_queue_is_down_is_queued_then_done(page, broker_down):
    shopper = UserFactory(email="robin@example.com")
    page.goto("/account/login/")
    page.get_by_label("E-mail").fill(shopper.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()  # signing in needs no broker
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=cookie["value"])
    session[account_services.STEP_UP_AT] = time.time()
    session.save()

    page.goto("/account/privacy/")
    page.get_by_role("button", name="Request a copy").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your data", timeout=30_000)
    expect(page.get_by_text("Your request is saved and queued.")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile("Export")))
    expect(row).to_contain_text("Pending")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "privacy-request-queued.png"), full_page=True)

    # The broker is back; a minute later the sweeper enqueues the request and a worker runs it.
    app.conf.task_always_eager = True
    DataRequest.objects.filter(subject=shopper).update(updated_at=timezone.now() - timedelta(minutes=2))
    assert tasks.sweep_data_requests() == 1
    page.reload()  # the page also refreshes itself while a request is open
    expect(row).to_contain_text("Done")
    expect(row.get_by_role("link", name="Download")).to_be_visible()
