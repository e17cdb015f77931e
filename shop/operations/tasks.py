"""Thin Celery wrappers (ids in, idempotent)."""

from celery import shared_task

from shop.core.periodic import run_alone


@shared_task(acks_late=True)
@run_alone("operations.beat_heartbeat")
def beat_heartbeat():
    """Every minute from beat: readiness reads its time to know beat and a worker are alive."""
    from .health import record_beat_heartbeat

    record_beat_heartbeat()


@shared_task(acks_late=True)
@run_alone("operations.send_breach_reminders")
def send_breach_reminders():
    from .services.incidents import send_due_reminders

    return send_due_reminders()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_subjects(notification_id: int):
    from .services.notifications import run_notification

    return run_notification(notification_id=notification_id)


@shared_task(acks_late=True)
@run_alone("operations.sweep_subject_notifications")
def sweep_subject_notifications():
    from .services.notifications import stalled_notifications

    for notification_id in stalled_notifications():
        notify_subjects.delay(notification_id)


@shared_task(acks_late=True)
@run_alone("operations.verify_audit_chain")
def verify_audit_chain():
    from .services.verification import verify_audit_chain as verify

    return verify().intact
