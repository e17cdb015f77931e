import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts.models import BackupCodeDevice, UserSession
from shop.core.models import AuditEvent
from shop.orders.models import Cart, CartLine, Order
from shop.payments.gateways.sandbox.models import SandboxToken
from shop.payments.models import PaymentMethod
from shop.privacy import services, tasks
from shop.privacy.models import DataRequest
from shop.privacy.registry import declarations
from tests.factories import UserFactory

from .conftest import make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"


def _archive(request):
    request.refresh_from_db()
    path = services.archive_file(request)
    assert path is not None
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_export_contains_every_declared_model_and_nothing_of_another_subject(
    subject, other, django_capture_on_commit_callbacks
):
    user, order = subject
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_export(subject=user)

    files = _archive(request)
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE
    exported = {entry.model for entry in declarations() if entry.export}
    assert {name.removesuffix(".json") for name in files if name.endswith(".json")} == exported | {"README"}
    for entry in declarations():
        if entry.export and entry.rows_of(user=user, email=user.email).exists():
            assert json.loads(files[f"{entry.model}.json"])["rows"], f"{entry.model} has rows but none exported"
    everything = "".join(files.values())
    assert user.email in everything and "zeldastrasse 7" in everything and order.number in everything
    assert "yorick" not in everything.lower()
    # MFA secrets never leave the database.
    assert "otp_totp.TOTPDevice.json" not in files
    assert TOTPDevice.objects.get(user=user).key not in everything
    assert "summary.html" in files and "zeldaburg" in files["summary.html"]
    # The e-mail points to the account page and carries no download link.
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "/account/privacy/" in mail.outbox[0].body and "/download/" not in mail.outbox[0].body


def test_export_is_stored_outside_media_and_expires_after_seven_days(subject, settings):
    user, _ = subject
    request = services.request_export(subject=user)
    services.run_export(request_id=request.pk)
    request.refresh_from_db()
    with services.archive_file(request) as archive:
        assert zipfile.is_zipfile(archive)
    path = Path(settings.PRIVACY_EXPORT_DIR) / request.archive_path  # the exports storage's folder
    assert path.is_file() and Path(settings.MEDIA_ROOT) not in path.parents
    assert (
        timedelta(days=6, hours=23) < request.archive_expires_at - request.received_at <= timedelta(days=7, minutes=1)
    )
    DataRequest.objects.filter(pk=request.pk).update(archive_expires_at=request.received_at - timedelta(seconds=1))
    request.refresh_from_db()
    assert services.archive_file(request) is None
    assert services.purge_expired_exports() == 1
    assert not path.exists()


def test_rerunning_a_finished_export_changes_nothing(subject):
    user, _ = subject
    request = services.request_export(subject=user)
    services.run_export(request_id=request.pk)
    request.refresh_from_db()
    first = request.archive_path
    assert services.run_export(request_id=request.pk) == "nothing to do"
    request.refresh_from_db()
    assert request.archive_path == first and len(mail.outbox) == 1


def _text_columns():
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            fields = [f for f in model._meta.concrete_fields if isinstance(f, (models.CharField, models.TextField))]
            fields += [f for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
            if fields:
                yield model, fields


def _find_anywhere(needles):
    """Every text column of every table (JSON as text), searched for each needle (case-insensitive)."""
    found = []
    for model, fields in _text_columns():
        for field in fields:
            rows = model._default_manager.annotate(_as_text=Cast(field.name, models.TextField()))
            for needle in needles:
                if rows.filter(_as_text__icontains=needle).exists():
                    found.append(f"{model._meta.label}.{field.name} contains {needle!r}")
    return found


def test_erasure_leaves_no_trace_of_the_subject_but_keeps_orders_and_totals(
    subject, other, django_capture_on_commit_callbacks
):
    user, order = subject
    other_user, other_order = other
    token = PaymentMethod.objects.get(user=user).token
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_erasure(subject=user)
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE

    needles = ["zelda", "zeldastrasse", "zeldaburg", user.email]
    assert _find_anywhere(needles) == []
    # Orders and their totals stay, for accounting.
    order.refresh_from_db()
    assert (order.total_minor, order.currency, order.status) == (2490, "EUR", Order.Status.DELIVERED)
    assert order.user_id == user.pk
    # Sessions, devices, carts, saved cards (detached at the gateway) and lockout records go.
    assert not UserSession.objects.filter(user=user).exists()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not BackupCodeDevice.objects.filter(user=user).exists()
    assert not Cart.objects.filter(user=user).exists() and not CartLine.objects.filter(cart__user=user).exists()
    assert not PaymentMethod.objects.filter(user=user).exists()
    assert SandboxToken.objects.get(token=token).detached_at is not None
    assert not AccessAttempt.objects.filter(username__iexact="zelda.person@example.com").exists()
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    # The other shopper is untouched.
    other_user.refresh_from_db()
    other_order.refresh_from_db()
    assert other_user.is_active and other_order.shipping_city == "yorickburg"
    assert UserSession.objects.filter(user=other_user).exists()
    assert AccessAttempt.objects.filter(username=other_user.email).exists()
    # The confirmation went to the address the subject had, which is then forgotten.
    assert [m.to for m in mail.outbox] == [["zelda.person@example.com"]]
    assert request.notify_email == ""
    assert AuditEvent.objects.filter(action="privacy.erasure_done", subject_id=str(request.pk)).exists()
    # The history says what was kept, on which legal basis, and until when.
    until = timezone.localtime(order.created_at).year + settings.SHOP_ORDER_RETENTION_YEARS
    notes = list(request.events.values_list("note", flat=True))
    assert any("legal obligation" in note and f"31 December {until}" in note for note in notes), notes


def test_erasure_rerun_is_idempotent(subject, django_capture_on_commit_callbacks):
    user, _ = subject
    request = services.request_erasure(subject=user)
    assert services.run_erasure(request_id=request.pk) == DataRequest.Status.DONE
    user.refresh_from_db()
    erased_email = user.email
    assert services.run_erasure(request_id=request.pk) == "nothing to do"
    # A compliance officer reruns it on purpose: still one erased account, nothing broken.
    officer = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.rerun(request_id=request.pk, actor=officer)
    request.refresh_from_db()
    user.refresh_from_db()
    assert request.status == DataRequest.Status.DONE and user.email == erased_email
    assert len(mail.outbox) == 1


def test_a_half_done_erasure_is_finished_by_the_sweeper(subject, settings):
    """A worker killed after some steps: the request stays running, the sweeper finishes it."""
    user, order = subject
    request = services.request_erasure(subject=user)
    # Simulate the killed worker: started, sessions already gone, nothing else.
    with pytest.raises(RuntimeError):
        settings.PRIVACY_ERASURE_STEP_DELAY = 0
        original = services._erase

        def crash(request, user, **_):
            UserSession.objects.filter(user=user).delete()
            raise RuntimeError("worker lost")

        services._erase = crash
        try:
            services.run_erasure(request_id=request.pk)
        finally:
            services._erase = original
    request.refresh_from_db()
    assert request.status == DataRequest.Status.FAILED
    # A lost worker leaves it running, untouched for a while.
    DataRequest.objects.filter(pk=request.pk).update(status=DataRequest.Status.RUNNING)
    DataRequest.objects.filter(pk=request.pk).update(updated_at=request.updated_at - timedelta(hours=1))
    assert tasks.sweep_data_requests() == 1
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DONE
    assert _find_anywhere(["zelda", user.email]) == []


def test_erasure_waits_for_an_open_order_and_resumes_when_it_closes(subject, django_capture_on_commit_callbacks):
    user, order = subject
    Order.objects.filter(pk=order.pk).update(status=Order.Status.READY_FOR_PICKUP)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_erasure(subject=user)
    request.refresh_from_db()
    assert request.status == DataRequest.Status.DEFERRED
    assert "still open" in request.deferred_reason
    user.refresh_from_db()
    assert user.is_active and user.email == "zelda.person@example.com"

    tasks.sweep_data_requests()  # still open: stays deferred, no new history line
    assert request.events.filter(status=DataRequest.Status.DEFERRED).count() == 1

    Order.objects.filter(pk=order.pk).update(status=Order.Status.COLLECTED)
    tasks.sweep_data_requests()
    request.refresh_from_db()
    user.refresh_from_db()
    assert request.status == DataRequest.Status.DONE
    assert not user.is_active and "zelda" not in user.email


def test_on_behalf_needs_an_identity_check(subject):
    user, _ = subject
    officer = UserFactory(is_staff=True)
    with pytest.raises(services.PrivacyError):
        services.request_erasure(subject=user, requested_by=officer, identity_check="  ")
    request = services.request_export(
        subject=user, requested_by=officer, identity_check="Called back on the number on file"
    )
    assert request.on_behalf and request.identity_check


def test_one_open_request_per_kind(subject):
    user, _ = subject
    DataRequest.objects.all().delete()
    from shop.privacy import tasks as privacy_tasks

    original = privacy_tasks.run_export.delay_on_commit
    privacy_tasks.run_export.delay_on_commit = lambda *args: None
    try:
        first = services.request_export(subject=user)
        assert services.request_export(subject=user) == first
    finally:
        privacy_tasks.run_export.delay_on_commit = original
    assert DataRequest.objects.count() == 1
    assert first.due_at - first.received_at == timedelta(days=30)


def test_an_illegal_transition_is_refused(subject):
    user, _ = subject
    request = services.request_export(subject=user)
    services.cancel(request_id=request.pk, actor=user) if request.status != "done" else None
    request.refresh_from_db()
    with pytest.raises(services.PrivacyError):
        services.cancel(request_id=request.pk, actor=user)


def test_make_subject_helper_is_complete():
    """Every registered model gets a row from make_subject, so the tests above cover them all."""
    user, _ = make_subject("xaver")
    for entry in declarations():
        if entry.model.startswith("privacy."):
            continue
        assert entry.rows_of(user=user, email=user.email).exists(), entry.model
