"""Celery wrappers for data-subject requests: they take ids and call a service. Safe to run twice."""

from smtplib import SMTPException

from celery import shared_task

from shop.core.periodic import run_alone

from . import archives, services
from .models import DataRequest


@shared_task(acks_late=True)
def run_export(request_id: int) -> str:
    return services.run_export(request_id=request_id)


@shared_task(acks_late=True)
def run_erasure(request_id: int) -> str:
    return services.run_erasure(request_id=request_id)


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_erasure_confirmation(request_id: int) -> bool:
    return services.send_erasure_confirmation(request_id=request_id)


@shared_task(acks_late=True)
@run_alone("privacy.sweep_data_requests")
def sweep_data_requests() -> int:
    """Every minute: re-enqueue lost, expired-lease, retry-due and deferred requests (shop/privacy/jobs.py);
    finish confirmations left unsent; delete expired exports and dead runs' spool files."""
    due = services.sweep()
    for request in due:
        task = run_export if request.kind == DataRequest.Kind.EXPORT else run_erasure
        task.delay(request.pk)
    for request_id in services.unconfirmed_erasures():
        send_erasure_confirmation.delay(request_id)
    services.purge_expired_exports()
    archives.purge_stale_parts()
    return len(due)
