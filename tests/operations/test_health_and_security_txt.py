"""Health checks for the load balancer, security.txt and the shopper security page."""

from datetime import datetime

import pytest
from django.urls import reverse

from shop.operations import health
from tests.factories import UserFactory


def test_liveness_answers_without_touching_anything(client):
    # No database mark: any query would raise here.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readiness_is_a_plain_ok_for_an_outsider(client):
    response = client.get("/health/ready", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.django_db(transaction=True)
def test_staff_see_every_check_by_name(client, verified_login):
    verified_login(client, UserFactory(is_staff=True))
    response = client.get("/health/ready?format=json")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert set(checks) == {"Database", "Cache", "Broker", "Worker", "BeatHeartbeat", "DiskSpace", "NoRestoreInProgress"}
    assert set(checks.values()) == {"ok"}


@pytest.mark.django_db(transaction=True)
def test_a_shopper_gets_no_detail(client):
    client.force_login(UserFactory())
    response = client.get("/health/ready?format=json")
    assert response.content == b"ok\n"


@pytest.mark.django_db(transaction=True)
def test_readiness_fails_when_disk_for_exports_runs_low(client, settings, verified_login):
    settings.HEALTH_MIN_FREE_DISK_MB = 10**12  # more than any disk has
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/ready").content == b"unavailable\n"
    verified_login(client, UserFactory(is_staff=True))
    detail = client.get("/health/ready?format=json").json()
    assert detail["checks"]["DiskSpace"].startswith("Unavailable")
    assert detail["checks"]["Database"] == "ok"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_readiness_fails_without_a_worker_or_beat_on_the_real_broker(client, verified_login):
    from shop.celery import app

    app.conf.task_always_eager = False  # as in production (the autouse fixture restores it)
    verified_login(client, UserFactory(is_staff=True))
    response = client.get("/health/ready?format=json")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["Broker"] == "ok"
    assert checks["Worker"] == "Unavailable: Celery workers unavailable"
    assert checks["BeatHeartbeat"] == "Unavailable: no beat heartbeat yet"

    health.record_beat_heartbeat()
    assert client.get("/health/ready?format=json").json()["checks"]["BeatHeartbeat"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_pending_restore_makes_the_shop_unavailable_until_the_ledger_is_applied(client, settings, tmp_path):
    from shop.operations.backup import ledger

    settings.ERASURE_LEDGER_PATH = tmp_path / "ledger.jsonl"
    ledger.mark_restore_pending("2026-01-01T00:00:00+00:00")
    assert client.get("/").status_code == 503
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/live").status_code == 200
    ledger.clear_restore_pending()
    assert client.get("/health/ready").status_code == 200


def test_security_txt_follows_rfc_9116(client, settings):
    settings.SECURITY_CONTACT = ["mailto:security@shop.example", "https://shop.example/report"]
    settings.SITE_URL = "https://shop.example"
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    fields = [line.split(": ", 1) for line in response.content.decode().splitlines()]
    assert ["Contact", "mailto:security@shop.example"] in fields
    assert ["Contact", "https://shop.example/report"] in fields
    assert ["Policy", "https://shop.example/security/"] in fields
    assert ["Canonical", "https://shop.example/.well-known/security.txt"] in fields
    (expires,) = [value for name, value in fields if name == "Expires"]
    expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    from django.utils import timezone

    assert 170 < (expires_at - timezone.now()).days <= 180


def test_security_page_says_we_never_ask_for_codes_and_is_in_the_footer(client, db):
    home = client.get("/")
    assert reverse("operations:security").encode() in home.content
    page = client.get(reverse("operations:security"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "We never ask for a code by phone, text message or e-mail." in text
    assert "security@localhost" in text
