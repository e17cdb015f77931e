"""Data-subject requests: export (Art. 15/20) and erasure (Art. 17), walking the registry.

Rows first, tasks second: a request is a DataRequest row, and its task is enqueued when that row
commits. The jobs are idempotent and resumable: erasure handles one registered model per
transaction, and each step (delete, anonymise) does nothing more when run again, so a worker
killed in the middle is finished by the next run (the sweeper enqueues it again).
"""

import json
import secrets
import time
import zipfile
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from shop.core import audit
from shop.core.mail import template_headers

from . import archives, jobs
from .models import DataRequest, DataRequestEvent
from .registry import declarations
from .signals import erasure_completed

EXPORT_LIFETIME = timedelta(days=7)
# An erasure waits while an order is still being fulfilled (or could still be refunded).
# Every order status that is not closed (shop.orders.models.Order.CLOSED_STATUSES): shipped too,
# until it is delivered or returned.
OPEN_ORDER_STATUSES = ("awaiting_payment", "paid", "ready_for_pickup", "shipped")


class PrivacyError(Exception):
    """A request that cannot be made or a step that is not allowed; the message is for people."""


def _move(request: DataRequest, status: str, *, note: str = "", actor=None) -> None:
    if not request.can_become(status):
        current, wanted = request.get_status_display().lower(), DataRequest.Status(status).label.lower()
        raise PrivacyError(f"A {current} request cannot become {wanted}.")
    request.status = status
    request.save()
    DataRequestEvent.objects.create(request=request, status=status, note=note[:300], actor=actor)


# --- Filing -----------------------------------------------------------------------------------


def request_export(*, subject, requested_by=None, identity_check: str = "") -> DataRequest:
    return _file(DataRequest.Kind.EXPORT, subject=subject, requested_by=requested_by, identity_check=identity_check)


def request_erasure(*, subject, requested_by=None, identity_check: str = "", note: str = "") -> DataRequest:
    return _file(
        DataRequest.Kind.ERASURE, subject=subject, requested_by=requested_by, identity_check=identity_check, note=note
    )


def _file(kind: str, *, subject, requested_by, identity_check: str, note: str = "") -> DataRequest:
    requested_by = requested_by or subject
    on_behalf = requested_by.pk != subject.pk
    if on_behalf and not identity_check.strip():
        raise PrivacyError("Record how the person's identity was verified before filing a request for them.")
    with transaction.atomic():
        get_user_model().objects.select_for_update().get(pk=subject.pk)  # one open request per kind
        existing = DataRequest.objects.filter(subject=subject, kind=kind, status__in=DataRequest.OPEN).first()
        if existing is not None:
            return existing
        request = DataRequest.objects.create(
            subject=subject,
            subject_ref=subject.pk,
            kind=kind,
            requested_by=requested_by,
            identity_check=identity_check.strip() if on_behalf else "",
        )
        if not note:
            note = "Filed on the person's behalf." if on_behalf else "Filed by the person from their account page."
        DataRequestEvent.objects.create(request=request, status=request.status, note=note, actor=requested_by)
        audit.record(
            f"privacy.{kind}_requested",
            actor=requested_by,
            subject=request,
            data={"subject_id": subject.pk, "on_behalf": on_behalf},
        )
        enqueue(request)
    return request


def enqueue(request: DataRequest) -> None:
    """Start the request's job once the current transaction commits.

    If the broker is down then, the row stays pending and the sweeper enqueues it when the broker
    is back; `request.waiting_for_broker` tells the page to say so (shop/celery.py ShopTask).
    """
    from . import tasks

    def broker_unavailable():
        request.waiting_for_broker = True

    request.waiting_for_broker = False
    task = tasks.run_export if request.kind == DataRequest.Kind.EXPORT else tasks.run_erasure
    task.apply_async_on_commit((request.pk,), on_unavailable=broker_unavailable)


def rerun(*, request_id: int, actor) -> DataRequest:
    """A compliance officer runs a request again (a failed one, or a finished one on purpose)."""
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if jobs.is_held(request):
            raise PrivacyError("It is running now; it can be run again once this run has ended.")
        request.attempts = 0  # a person decided: a fresh set of retries
        request.retry_at = None
        jobs.release(request)
        if request.status != DataRequest.Status.PENDING:
            _move(request, DataRequest.Status.PENDING, note="Run again by a compliance officer.", actor=actor)
        else:
            request.save()
        audit.record("privacy.request_rerun", actor=actor, subject=request, data={"kind": request.kind})
        enqueue(request)
    return request


def cancel(*, request_id: int, actor) -> DataRequest:
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        _move(request, DataRequest.Status.CANCELLED, note="Cancelled.", actor=actor)
        audit.record("privacy.request_cancelled", actor=actor, subject=request, data={"kind": request.kind})
    return request


def _start(request_id: int, kind: str) -> tuple[DataRequest, str] | None:
    """Lock the request, take its lease and mark it running (shop/privacy/jobs.py).

    None when there is nothing (more) to do, or when another run holds a live lease: a job never
    runs twice at once, whatever number of messages the broker delivers.
    """
    request = DataRequest.objects.select_for_update().filter(pk=request_id, kind=kind).first()
    if request is None or request.status in (DataRequest.Status.DONE, DataRequest.Status.CANCELLED):
        return None
    token = jobs.take_lease(request)
    if token is None:
        return None
    if request.status != DataRequest.Status.RUNNING:
        _move(request, DataRequest.Status.RUNNING, note="Started.")
    elif request.attempts > 1:
        DataRequestEvent.objects.create(
            request=request, status=request.status, note=f"Resumed (run {request.attempts}): the last run stopped."
        )
    if request.started_at is None:
        request.started_at = timezone.now()
        request.save(update_fields=["started_at", "updated_at"])
    return request, token


def _fail(request_id: int, error: Exception, *, token: str) -> None:
    """A run raised: FAILED with a planned retry, or for good after the last attempt."""
    if isinstance(error, jobs.LeaseLost):
        return  # another run took over; it decides how this ends
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if request.lease_token != token or not request.can_become(DataRequest.Status.FAILED):
            return
        note = jobs.plan_retry(request)
        _move(request, DataRequest.Status.FAILED, note=f"{type(error).__name__}; see the worker log. {note}")
        audit.record(
            "privacy.request_failed",
            subject=request,
            data={"kind": request.kind, "attempts": request.attempts, "retry": request.retry_at is not None},
        )


def _give_up_lost(request_id: int) -> bool:
    """The sweeper found a run whose worker vanished and no attempts are left: fail it for good."""
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if request.status != DataRequest.Status.RUNNING or jobs.is_held(request):
            return False
        if request.attempts < jobs.max_attempts():
            return False
        jobs.release(request)
        request.retry_at = None
        _move(
            request,
            DataRequest.Status.FAILED,
            note=f"The worker stopped {request.attempts} times; no more retries. An officer must run it again.",
        )
        audit.record("privacy.request_failed", subject=request, data={"kind": request.kind, "lost": True})
    return True


# --- Export -----------------------------------------------------------------------------------


def collect(*, user, lease: jobs.Lease | None = None) -> list[dict]:
    """The subject's data, one section per exportable registered model (empty ones included).
    With a lease, it is kept alive between sections (long exports outlive one lease length)."""
    sections = []
    for entry in declarations():
        if lease is not None:
            lease.keep()
        if not entry.export:
            continue
        rows = list(entry.rows_of(user=user, email=user.email).order_by("pk").values("pk", *entry.fields))
        sections.append(
            {
                "model": entry.model,
                "purpose": entry.purpose,
                "legal_basis": entry.legal_basis,
                "erasure": entry.erasure,
                "keep_reason": entry.keep_reason,
                "fields": ["pk", *entry.fields],
                "rows": rows,
            }
        )
    return sections


def run_export(*, request_id: int) -> str:
    with transaction.atomic():
        started = _start(request_id, DataRequest.Kind.EXPORT)
        if started is None:
            return "nothing to do"
        request, token = started
        user = request.subject
    if user is None:
        return _finish_export(request_id, name="", note="The account no longer exists.", token=token)
    try:
        lease = jobs.Lease(request_id=request_id, token=token)
        sections = collect(user=user, lease=lease)
        lease.keep(now=True)
        generated_at = timezone.now()
        name = f"export-{request_id}-{secrets.token_hex(8)}.zip"
        with (
            archives.spooled(request_id=request_id, token=token) as part,
            zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            readme = {
                "generated_at": generated_at,
                "account_id": user.pk,
                "files": {f"{s['model']}.json": s["purpose"] for s in sections},
                "keys": "Each file: model, purpose, legal_basis, erasure, keep_reason, fields, rows "
                "(one object per row, keyed by field name; pk is the row's id, related rows by id).",
            }
            archive.writestr("README.json", json.dumps(readme, cls=DjangoJSONEncoder, indent=2))
            for section in sections:
                lease.keep()
                archive.writestr(f"{section['model']}.json", json.dumps(section, cls=DjangoJSONEncoder, indent=2))
            html = render_to_string(
                "privacy/export_summary.html", {"sections": sections, "generated_at": generated_at, "user": user}
            )
            archive.writestr("summary.html", html)
        lease.keep(now=True)
        name = archives.publish(part, name=name)
    except Exception as error:
        _fail(request_id, error, token=token)
        raise
    return _finish_export(request_id, name=name, note=f"Archive ready ({len(sections)} files).", token=token)


def _finish_export(request_id: int, *, name: str, note: str, token: str) -> str:
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if request.status != DataRequest.Status.RUNNING or request.lease_token != token:  # another run took over
            archives.delete(name)
            return request.status
        _delete_archive(request)
        jobs.release(request)
        request.archive_path = name
        request.archive_expires_at = timezone.now() + EXPORT_LIFETIME if name else None
        request.finished_at = timezone.now()
        _move(request, DataRequest.Status.DONE, note=note)
        audit.record("privacy.export_done", subject=request, data={"subject_id": request.subject_ref})
        user = request.subject
    if name and user is not None:
        EmailMessage(
            "Your copy of your data is ready",
            render_to_string(
                "emails/privacy_export_ready.txt",
                {"request": request, "url": settings.SITE_URL + reverse("privacy:requests")},
            ),
            to=[user.email],
            headers=template_headers("emails/privacy_export_ready.txt"),
        ).send()
    return DataRequest.Status.DONE


def archive_file(request: DataRequest):
    """The export's file opened for reading (from the `exports` storage), if the request has a live one."""
    if not request.archive_ready:
        return None
    return archives.open_archive(request.archive_path)


def _delete_archive(request: DataRequest) -> None:
    if request.archive_path:
        archives.delete(request.archive_path)
        request.archive_path = ""
        request.archive_expires_at = None
        request.save(update_fields=["archive_path", "archive_expires_at", "updated_at"])


def purge_expired_exports() -> int:
    """Exports live 7 days: delete the files and forget their paths."""
    count = 0
    for request in DataRequest.objects.filter(archive_expires_at__lte=timezone.now()).exclude(archive_path=""):
        with transaction.atomic():
            _delete_archive(request)
            DataRequestEvent.objects.create(request=request, status=request.status, note="Export archive deleted.")
        count += 1
    return count


def record_download(*, request: DataRequest, actor) -> None:
    audit.record("privacy.export_downloaded", actor=actor, subject=request, data={"subject_id": request.subject_ref})


# --- Erasure ----------------------------------------------------------------------------------


def open_orders_reason(user) -> str:
    from shop.orders.models import Order

    open_orders = Order.objects.filter(user=user, status__in=OPEN_ORDER_STATUSES)
    count = open_orders.count()
    if not count:
        return ""
    return (
        f"{count} order{'s are' if count > 1 else ' is'} still open (not yet collected, delivered or cancelled); "
        "the erasure continues by itself once they are closed."
    )


def run_erasure(*, request_id: int) -> str:
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().filter(pk=request_id, kind=DataRequest.Kind.ERASURE).first()
        if request is None or request.status in (DataRequest.Status.DONE, DataRequest.Status.CANCELLED):
            return "nothing to do"
        user = request.subject
        reason = open_orders_reason(user) if user is not None else ""
        if reason:
            if request.status != DataRequest.Status.DEFERRED or request.deferred_reason != reason:
                request.deferred_reason = reason
                _move(request, DataRequest.Status.DEFERRED, note=reason)
            return DataRequest.Status.DEFERRED
        first_run = request.started_at is None
        started = _start(request_id, DataRequest.Kind.ERASURE)
        if started is None:
            return "nothing to do"  # another run holds the lease
        request, token = started
        if user is not None and first_run:
            # The address the subject had, for the confirmation and for records keyed by it.
            request.notify_email = user.email
            request.deferred_reason = ""
            request.save(update_fields=["notify_email", "deferred_reason", "updated_at"])
            DataRequestEvent.objects.create(request=request, status=request.status, note=kept_orders_note(user))
    try:
        if user is not None:
            _erase(request, user, token=token)
    except Exception as error:
        _fail(request_id, error, token=token)
        raise
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if request.status != DataRequest.Status.RUNNING or request.lease_token != token:
            return request.status
        jobs.release(request)
        request.finished_at = timezone.now()
        _move(request, DataRequest.Status.DONE, note="Erased; orders kept for accounting without personal data.")
        audit.record("privacy.erasure_done", subject=request, data={"subject_id": request.subject_ref})
        erasure_completed.send(
            DataRequest, request_id=request.pk, subject_id=request.subject_ref, email=request.notify_email
        )
    send_erasure_confirmation(request_id=request_id)
    return DataRequest.Status.DONE


def kept_orders_note(user) -> str:
    """What erasure keeps, why, and until when: orders are accounting records (legal obligation)."""
    from django.db.models import Max

    from shop.orders.models import Order

    orders = Order.objects.filter(user=user)
    latest = orders.aggregate(latest=Max("created_at"))["latest"]
    if latest is None:
        return "No orders to keep."
    # Kept until the end of the retention period, counted from the end of the latest order's year.
    until = timezone.localtime(latest).year + settings.SHOP_ORDER_RECORD_YEARS
    return (
        f"{orders.count()} order(s) kept without personal data for accounting (legal obligation); "
        f"amounts and dates are kept until 31 December {until}, then deleted (retention policy order_records)."
    )


def _erase(request: DataRequest, user, *, token: str) -> None:
    delay = getattr(settings, "PRIVACY_ERASURE_STEP_DELAY", 0)  # tests slow the job down to kill it
    for entry in declarations():
        jobs.renew(request_id=request.pk, token=token)  # still ours, for another lease length
        with transaction.atomic():
            rows = entry.rows_of(user=user, email=request.notify_email)
            if entry.erasure == "delete":
                count = import_string(entry.eraser)(user=user, queryset=rows) if entry.eraser else rows.delete()[0]
            elif entry.erasure == "anonymise":
                count = 0
                for row in rows.select_for_update():
                    for name, value in entry.anonymised_values(row).items():
                        setattr(row, name, value)
                    row.save(update_fields=list(entry.anonymise))
                    count += 1
            else:
                continue
            if count:
                DataRequestEvent.objects.create(
                    request=request, status=DataRequest.Status.RUNNING, note=f"{entry.model}: {entry.erasure} {count}."
                )
        if delay:
            time.sleep(delay)
    # The subject's own export archives go too.
    for export in DataRequest.objects.filter(subject=user).exclude(archive_path=""):
        _delete_archive(export)


def send_erasure_confirmation(*, request_id: int) -> bool:
    """Tell the address the subject had, then forget it. Safe to call again (the sweeper does)."""
    request = DataRequest.objects.get(pk=request_id)
    if request.status != DataRequest.Status.DONE or not request.notify_email:
        return False
    EmailMessage(
        "Your account has been deleted",
        render_to_string("emails/privacy_erasure_done.txt", {"request": request}),
        to=[request.notify_email],
        headers=template_headers("emails/privacy_erasure_done.txt"),
    ).send()
    DataRequest.objects.filter(pk=request_id).update(notify_email="")
    return True


# --- Sweeper ----------------------------------------------------------------------------------


def sweep() -> list[DataRequest]:
    """The requests to enqueue again (shop/privacy/jobs.py says which); lost runs with no attempts
    left become FAILED for a person instead."""
    due = []
    for request in jobs.due_for_sweep():
        if request.status == DataRequest.Status.RUNNING and _give_up_lost(request.pk):
            continue
        due.append(request)
    return due


def unconfirmed_erasures() -> list[int]:
    return list(
        DataRequest.objects.filter(kind=DataRequest.Kind.ERASURE, status=DataRequest.Status.DONE)
        .exclude(notify_email="")
        .values_list("pk", flat=True)
    )
