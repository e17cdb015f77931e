"""The broker is down (Redis for Celery restarted, a full disk, a network split): pages that queue
work keep their rows and answer, and signing in never needs the broker at all."""

import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from shop.accounts import services as account_services
from shop.accounts.tasks import send_security_notice
from shop.celery import app
from shop.privacy import tasks as privacy_tasks
from shop.privacy.models import DataRequest
from shop.privacy.views import QUEUED
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.fixture
def broker_down():
    """Point Celery at a port where nothing listens, with real (not eager) sending."""
    original = app.conf.broker_url
    app.conf.task_always_eager = False  # the autouse fixture restores it
    app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.broker_url = original
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    settings.PRIVACY_EXPORT_SPOOL_DIR = tmp_path / "spool"
    settings.ALTCHA_VERIFICATION_ENABLED = False


@pytest.mark.django_db(transaction=True)  # commits for real: the message is sent when the row commits
def test_a_data_request_filed_while_the_broker_is_down_is_kept_and_the_person_told_it_is_queued(client, broker_down):
    user = UserFactory()
    client.force_login(user)
    session = client.session
    session[account_services.STEP_UP_AT] = time.time()
    session.save()

    started = time.monotonic()
    response = client.post(reverse("privacy:request_export"), follow=True)

    assert response.status_code == 200 and time.monotonic() - started < 15
    assert QUEUED in response.content.decode()
    request = DataRequest.objects.get(subject=user)
    assert request.status == DataRequest.Status.PENDING

    # The broker is back; the sweeper's next minute picks the row up.
    app.conf.task_always_eager = True
    DataRequest.objects.filter(pk=request.pk).update(updated_at=timezone.now() - timedelta(minutes=2))
    assert privacy_tasks.sweep_data_requests() == 1
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE


def test_signing_in_works_while_the_broker_is_down(client, broker_down, django_capture_on_commit_callbacks):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/login/", {"username": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/account/").status_code == 200


def test_a_task_queued_on_commit_while_the_broker_is_down_is_logged_by_name_without_its_arguments(
    broker_down, django_capture_on_commit_callbacks, caplog
):
    user = UserFactory(email="private.person@example.com")

    with caplog.at_level(logging.WARNING, logger="shop.jobs"), django_capture_on_commit_callbacks(execute=True):
        send_security_notice.delay_on_commit(user.pk, "password_changed")

    assert "Broker unavailable, shop.accounts.tasks.send_security_notice not sent" in caplog.text
    assert "private.person" not in caplog.text and "password_changed" not in caplog.text


def test_cache_sessions_and_broker_can_each_have_their_own_url(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['default']['LOCATION'], s.CACHES['sessions']['LOCATION'], s.SESSION_CACHE_ALIAS, "
        "s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://shared:6379/0",
        "CACHE_URL": "redis://cache:6379/0",
        "SESSION_CACHE_URL": "redis://sessions:6379/0",
        "CELERY_BROKER_URL": "redis://broker:6379/0",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [
        "redis://cache:6379/0",
        "redis://sessions:6379/0",
        "sessions",
        "redis://broker:6379/0",
        "False",
    ]
