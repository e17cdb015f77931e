"""Celery wrappers for data-subject requests: they take ids and call a service. Safe to run twice."""

from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from . import services
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
def sweep_data_requests() -> int:
    """Re-enqueue pending or stuck requests and deferred erasures; finish what was left undone."""
    minutes = getattr(settings, "PRIVACY_SWEEP_AFTER_MINUTES", 15)
    stuck = services.stuck_requests(older_than=timedelta(minutes=minutes))
    for request in stuck:
        task = run_export if request.kind == DataRequest.Kind.EXPORT else run_erasure
        task.delay(request.pk)
    for request_id in services.unconfirmed_erasures():
        send_erasure_confirmation.delay(request_id)
    services.purge_expired_exports()
    return len(stuck)
