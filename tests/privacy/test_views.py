import time
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from shop.accounts import services as account_services
from shop.privacy import services
from shop.privacy.models import DataRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/account/privacy/"


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"


def _signed_in(client, user, *, fresh=True):
    client.force_login(user)
    session = client.session
    session[account_services.STEP_UP_AT] = time.time() if fresh else time.time() - 3600
    session.save()
    return client


def _ready_export(user):
    request = services.request_export(subject=user)
    services.run_export(request_id=request.pk)
    request.refresh_from_db()
    return request


def test_page_needs_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_a_shopper_requests_an_export_and_downloads_it(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    _signed_in(client, user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("privacy:request_export"))
    assert response.status_code == 302
    request = DataRequest.objects.get(subject=user)
    assert request.status == DataRequest.Status.DONE
    page = client.get(PAGE)
    download_url = reverse("privacy:download", args=[request.pk])
    assert download_url in page.content.decode()
    response = client.get(download_url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="storefront-data-')
    assert b"".join(response.streaming_content)[:2] == b"PK"
    assert len(mail.outbox) == 1 and download_url not in mail.outbox[0].body


def test_requests_need_a_fresh_step_up_and_a_post(client):
    user = UserFactory()
    _signed_in(client, user, fresh=False)
    response = client.post(reverse("privacy:request_export"))
    assert response["Location"].startswith(reverse("accounts:step_up"))
    assert not DataRequest.objects.exists()
    _signed_in(client, user)
    assert client.get(reverse("privacy:request_export"))["Location"] == PAGE
    assert client.get(reverse("privacy:request_erasure"))["Location"] == PAGE
    assert not DataRequest.objects.exists()


def test_erasure_needs_the_confirmation_box(client):
    user = UserFactory()
    _signed_in(client, user)
    client.post(reverse("privacy:request_erasure"))
    assert not DataRequest.objects.exists()
    client.post(reverse("privacy:request_erasure"), {"confirm": "yes"})
    assert DataRequest.objects.get(subject=user).kind == DataRequest.Kind.ERASURE


def test_the_download_needs_a_fresh_step_up(client):
    user = UserFactory()
    request = _ready_export(user)
    _signed_in(client, user, fresh=False)
    response = client.get(reverse("privacy:download", args=[request.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:step_up"))


def test_nobody_else_downloads_an_export(client):
    request = _ready_export(UserFactory())
    _signed_in(client, UserFactory())
    assert client.get(reverse("privacy:download", args=[request.pk])).status_code == 404


def test_no_download_after_expiry(client):
    user = UserFactory()
    request = _ready_export(user)
    DataRequest.objects.filter(pk=request.pk).update(archive_expires_at=request.archive_expires_at - timedelta(days=8))
    _signed_in(client, user)
    assert client.get(reverse("privacy:download", args=[request.pk])).status_code == 404
    assert reverse("privacy:download", args=[request.pk]) not in client.get(PAGE).content.decode()


def test_the_page_refreshes_itself_while_a_request_is_being_processed(client):
    user = UserFactory()
    _signed_in(client, user)
    assert 'http-equiv="refresh"' not in client.get(reverse("privacy:requests")).content.decode()

    services.request_export(subject=user)  # on-commit never fires here: the request stays pending

    page = client.get(reverse("privacy:requests")).content.decode()
    assert 'http-equiv="refresh"' in page and "refreshes itself" in page
