"""The job machinery of data requests: leases, retries with back-off, spool files (shop/privacy/jobs.py)."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from shop.accounts.models import User
from shop.privacy import archives, jobs, services, tasks
from shop.privacy.admin import DataRequestAdmin
from shop.privacy.models import DataRequest
from tests.concurrency import run_at_once

from .conftest import make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    settings.PRIVACY_EXPORT_SPOOL_DIR = tmp_path / "spool"


def _leased(request: DataRequest, *, expires_in: timedelta) -> DataRequest:
    """The request as a worker left it: running, with a lease until now + expires_in."""
    DataRequest.objects.filter(pk=request.pk).update(
        status=DataRequest.Status.RUNNING,
        lease_token="a" * 32,
        lease_expires_at=timezone.now() + expires_in,
        attempts=1,
        started_at=timezone.now(),
    )
    request.refresh_from_db()
    return request


def test_a_request_with_a_live_lease_is_not_run_a_second_time(subject):
    user, _ = subject
    request = _leased(services.request_erasure(subject=user), expires_in=timedelta(seconds=20))

    assert services.run_erasure(request_id=request.pk) == "nothing to do"  # a second message, a sweep, ...

    user.refresh_from_db()
    request.refresh_from_db()
    assert user.is_active and user.email == "zelda.person@example.com"
    assert request.lease_token == "a" * 32 and request.status == DataRequest.Status.RUNNING


def test_an_expired_lease_is_swept_within_a_minute_and_the_job_resumes(subject):
    user, _ = subject
    request = _leased(services.request_erasure(subject=user), expires_in=timedelta(seconds=-1))

    assert tasks.sweep_data_requests() == 1

    request.refresh_from_db()
    user.refresh_from_db()
    assert request.status == DataRequest.Status.DONE and request.attempts == 2
    assert not user.is_active and request.lease_token == "" and request.lease_expires_at is None
    assert request.events.filter(note__startswith="Resumed (run 2)").exists()


def test_the_sweeper_leaves_a_live_lease_and_a_just_filed_request_alone(subject, settings):
    user, _ = subject
    _leased(services.request_erasure(subject=user), expires_in=timedelta(seconds=20))
    other, _ = make_subject("yorick")
    services.request_export(subject=other)  # just filed: its message is on its way

    assert tasks.sweep_data_requests() == 0


def test_a_request_pending_past_the_grace_minute_is_enqueued_again(subject):
    user, _ = subject
    request = services.request_export(subject=user)
    DataRequest.objects.filter(pk=request.pk).update(
        status=DataRequest.Status.PENDING, updated_at=timezone.now() - timedelta(minutes=2)
    )

    assert tasks.sweep_data_requests() == 1
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE


def test_a_run_that_lost_its_lease_stops_before_its_next_step(subject):
    user, _ = subject
    request = services.request_erasure(subject=user)
    DataRequest.objects.filter(pk=request.pk).update(status=DataRequest.Status.RUNNING, lease_token="b" * 32)

    with pytest.raises(jobs.LeaseLost):
        jobs.renew(request_id=request.pk, token="a" * 32)


def test_a_failing_job_is_retried_with_back_off_then_shown_to_the_officer_as_failed(subject, monkeypatch, rf):
    user, _ = subject

    def broken(request, user, **_):
        raise RuntimeError("the database said no")

    monkeypatch.setattr(services, "_erase", broken)
    request = services.request_erasure(subject=user)
    with pytest.raises(RuntimeError):
        services.run_erasure(request_id=request.pk)
    waits = []
    for attempt in range(1, 5):
        request.refresh_from_db()
        assert request.status == DataRequest.Status.FAILED and request.attempts == attempt
        if attempt == 4:
            break
        waits.append(round((request.retry_at - timezone.now()).total_seconds() / 60))
        assert tasks.sweep_data_requests() == 0  # not before its time
        DataRequest.objects.filter(pk=request.pk).update(retry_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(RuntimeError):
            tasks.sweep_data_requests()

    assert waits == [1, 5, 25]
    assert request.retry_at is None and request.gave_up and not request.is_overdue
    assert tasks.sweep_data_requests() == 0  # no more retries: a person decides
    DataRequest.objects.filter(pk=request.pk).update(due_at=timezone.now() - timedelta(days=1))
    request.refresh_from_db()
    assert request.is_overdue
    shown = DataRequestAdmin(DataRequest, None).due(request)
    assert "FAILED after 4 runs" in shown and "OVERDUE" in shown
    assert request.events.filter(note__contains="no more retries").exists()


def test_an_officer_run_again_starts_a_fresh_set_of_retries(subject):
    user, _ = subject
    request = services.request_export(subject=user)
    DataRequest.objects.filter(pk=request.pk).update(status=DataRequest.Status.FAILED, attempts=4, retry_at=None)
    officer = User.objects.create(email="officer@example.com", is_staff=True)

    services.rerun(request_id=request.pk, actor=officer)
    request.refresh_from_db()
    assert request.status == DataRequest.Status.PENDING and request.attempts == 0
    services.run_export(request_id=request.pk)

    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE and request.attempts == 1


def test_run_again_is_refused_while_the_job_holds_its_lease(subject):
    user, _ = subject
    request = _leased(services.request_export(subject=user), expires_in=timedelta(seconds=20))
    officer = User.objects.create(email="officer@example.com", is_staff=True)

    with pytest.raises(services.PrivacyError, match="running now"):
        services.rerun(request_id=request.pk, actor=officer)


def test_a_lost_worker_with_no_attempts_left_becomes_failed_for_a_person(subject):
    user, _ = subject
    request = _leased(services.request_erasure(subject=user), expires_in=timedelta(seconds=-1))
    DataRequest.objects.filter(pk=request.pk).update(attempts=4)

    assert tasks.sweep_data_requests() == 0

    request.refresh_from_db()
    assert request.status == DataRequest.Status.FAILED and request.gave_up
    user.refresh_from_db()
    assert user.is_active  # nothing more was run


def test_a_failed_export_leaves_no_spool_file(subject, monkeypatch, settings):
    user, _ = subject

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "render_to_string", broken)  # fails half-way through the archive
    request = services.request_export(subject=user)
    with pytest.raises(OSError):
        services.run_export(request_id=request.pk)

    assert list(Path(settings.PRIVACY_EXPORT_SPOOL_DIR).glob("*")) == []
    assert not Path(settings.PRIVACY_EXPORT_DIR).exists() or not any(Path(settings.PRIVACY_EXPORT_DIR).iterdir())
    assert DataRequest.objects.get(subject=user).status == DataRequest.Status.FAILED


def test_the_sweeper_deletes_a_killed_runs_spool_file_but_not_a_live_ones(subject, settings):
    user, _ = subject
    request = _leased(services.request_export(subject=user), expires_in=timedelta(seconds=20))
    spool = archives.spool_dir()
    live = spool / f"{request.pk}-{'a' * 32}.part"
    dead = spool / f"{request.pk}-{'c' * 32}.part"  # an earlier run of the same request, killed
    for part in (live, dead):
        part.write_bytes(b"PK personal data")
        old = time.time() - 120
        os.utime(part, (old, old))

    tasks.sweep_data_requests()

    assert live.exists() and not dead.exists()


def test_the_export_goes_through_the_exports_storage(subject, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "shared-volume")},
        },
    }
    user, _ = subject
    request = services.request_export(subject=user)
    services.run_export(request_id=request.pk)
    request.refresh_from_db()

    assert (tmp_path / "shared-volume" / request.archive_path).is_file()
    with services.archive_file(request) as archive:
        assert archive.read(2) == b"PK"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_given_the_same_request_at_once_run_it_once(settings, tmp_path):
    user, _ = make_subject("zelda")
    with transaction.atomic():
        request = DataRequest.objects.create(subject=user, subject_ref=user.pk, kind=DataRequest.Kind.EXPORT)

    results = run_at_once([lambda: services.run_export(request_id=request.pk)] * 2)

    assert sorted(map(str, results)) == ["done", "nothing to do"]
    request.refresh_from_db()
    assert request.attempts == 1 and request.events.filter(status=DataRequest.Status.DONE).count() == 1
    assert len(list((tmp_path / "exports").glob("*.zip"))) == 1


def test_the_shopper_sees_that_a_failed_request_is_retried_or_with_the_privacy_team(client, subject):
    user, _ = subject
    request = services.request_export(subject=user)
    client.force_login(user)
    DataRequest.objects.filter(pk=request.pk).update(
        status=DataRequest.Status.FAILED, retry_at=timezone.now() + timedelta(minutes=5)
    )
    assert "We will try again by" in client.get("/account/privacy/").content.decode()

    DataRequest.objects.filter(pk=request.pk).update(retry_at=None)
    assert "on our privacy team's list" in client.get("/account/privacy/").content.decode()


def test_a_long_export_keeps_its_lease_alive_between_pieces(subject, settings, django_assert_num_queries):
    settings.PRIVACY_LEASE_SECONDS = 3
    user, _ = subject
    request = _leased(services.request_export(subject=user), expires_in=timedelta(seconds=3))
    lease = jobs.Lease(request_id=request.pk, token=request.lease_token)
    before = request.lease_expires_at

    with django_assert_num_queries(0):
        lease.keep()  # just renewed: no query per piece
    time.sleep(1.1)
    lease.keep()

    request.refresh_from_db()
    assert request.lease_expires_at > before
    DataRequest.objects.filter(pk=request.pk).update(lease_token="d" * 32)  # expired meanwhile, taken over
    with pytest.raises(jobs.LeaseLost):
        lease.keep(now=True)
