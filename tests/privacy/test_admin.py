"""The compliance desk: the request queue, filing on someone's behalf, running, downloading."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from shop.accounts import roles
from shop.core.models import AuditEvent
from shop.privacy import services
from shop.privacy.models import DataRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
QUEUE = "/admin/privacy/datarequest/"


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"


def _staff(role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def officer_client(client, verified_login):
    officer = _staff(roles.COMPLIANCE)
    verified_login(client, officer)
    return client, officer


def test_the_queue_shows_due_dates_and_highlights_overdue_requests(officer_client):
    client, officer = officer_client
    late = services.request_export(subject=UserFactory())
    DataRequest.objects.filter(pk=late.pk).update(
        status=DataRequest.Status.PENDING, due_at=timezone.now() - timedelta(days=1)
    )
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert "OVERDUE" in response.content.decode()
    assert AuditEvent.objects.filter(action="privacy.queue_viewed", actor_id=officer.pk).exists()


def test_the_queue_needs_an_otp_verified_compliance_officer(client, verified_login):
    officer = _staff(roles.COMPLIANCE)
    client.force_login(officer)  # password only, no second factor
    assert client.get(QUEUE).status_code == 302
    clerk = _staff(roles.CLERK)
    verified_login(client, clerk)
    assert client.get(QUEUE).status_code == 403


def test_filing_on_behalf_requires_an_identity_check(officer_client, django_capture_on_commit_callbacks):
    client, officer = officer_client
    subject = UserFactory()
    response = client.post(QUEUE + "add/", {"subject": subject.pk, "kind": "erasure", "identity_check": " "})
    assert response.status_code == 200 and not DataRequest.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            QUEUE + "add/",
            {"subject": subject.pk, "kind": "erasure", "identity_check": "Answered from the account address"},
        )
    assert response.status_code == 302
    request = DataRequest.objects.get()
    assert request.requested_by == officer and request.on_behalf
    assert request.status == DataRequest.Status.DONE
    subject.refresh_from_db()
    assert not subject.is_active
    assert AuditEvent.objects.filter(action="privacy.erasure_requested", actor_id=officer.pk).exists()
    detail = client.get(QUEUE + f"{request.pk}/change/")
    assert detail.status_code == 200 and "Erased; orders kept" in detail.content.decode()


def test_a_compliance_officer_reruns_and_downloads_an_export(officer_client, django_capture_on_commit_callbacks):
    client, officer = officer_client
    request = services.request_export(subject=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(QUEUE, {"action": "run_again", "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE and request.archive_ready
    response = client.get(QUEUE + f"{request.pk}/download/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="privacy.export_downloaded", actor_id=officer.pk).exists()
    assert AuditEvent.objects.filter(action="privacy.request_rerun", actor_id=officer.pk).exists()


def test_other_staff_cannot_download_exports(client, verified_login):
    subject = UserFactory()
    request = services.request_export(subject=subject)
    services.run_export(request_id=request.pk)
    manager = _staff(roles.MANAGER)
    verified_login(client, manager)
    assert client.get(QUEUE + f"{request.pk}/download/").status_code == 403
