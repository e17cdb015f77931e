"""Celery wrappers: they take ids and call a service. Safe to run twice."""

from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from shop.core.periodic import run_alone

from . import emails
from .models import Order


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_order_confirmation(order_id: int) -> bool:
    """The receipt, once the payment succeeded (the name stays for messages already queued)."""
    from . import emails

    return emails.send_notice(order_id=order_id, kind="receipt")


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_order_notice(order_id: int, kind: str) -> bool:
    from . import emails

    return emails.send_notice(order_id=order_id, kind=kind)


@shared_task(acks_late=True)
@run_alone("orders.sweep_order_confirmations")
def sweep_order_confirmations() -> int:
    """Re-enqueue receipts that never went out (a broker outage, a lost worker)."""
    now = timezone.now()
    stuck = list(
        Order.objects.filter(
            confirmation_sent_at__isnull=True,
            status__in=emails.NOTICES["receipt"].statuses,
            updated_at__lt=now - timedelta(minutes=5),
            created_at__gt=now - timedelta(days=2),
        ).values_list("pk", flat=True)
    )
    for order_id in stuck:
        send_order_confirmation.delay(order_id)
    return len(stuck)


@shared_task(acks_late=True)
@run_alone("orders.expire_unpaid_orders")
def expire_unpaid_orders() -> int:
    """Beat, every minute: unpaid orders past the payment window give their units back."""
    from . import lifecycle

    return lifecycle.expire_unpaid()


@shared_task(acks_late=True)
@run_alone("orders.mark_overdue_deliveries")
def mark_overdue_deliveries() -> int:
    """Beat, hourly: shipped orders count as delivered SHOP_AUTO_DELIVERED_DAYS after shipping."""
    from . import dispatch

    return dispatch.deliver_overdue()


# --- Click & collect (shop/orders/pickup.py) --------------------------------------------------


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_pickup_ready(code_id: int) -> bool:
    from . import pickup

    return pickup.send_ready_notice(code_id=code_id)


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_pickup_collected(order_id: int) -> bool:
    from . import pickup

    return pickup.send_notice(order_id=order_id, kind="collected")


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_pickup_expired(order_id: int) -> bool:
    from . import pickup

    return pickup.send_notice(order_id=order_id, kind="expired")


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=3)
def alert_managers_desk_locked(clerk_id: int, wrong_codes: int) -> int:
    from . import pickup

    return pickup.alert_managers(clerk_id=clerk_id, wrong_codes=wrong_codes)


@shared_task(acks_late=True)
@run_alone("orders.expire_uncollected_pickups")
def expire_uncollected_pickups() -> int:
    """Beat, every 15 minutes: cancel ready orders past their pickup deadline."""
    from . import pickup

    return pickup.expire_uncollected()


@shared_task(acks_late=True)
@run_alone("orders.send_pickup_reminders")
def send_pickup_reminders() -> int:
    """Beat, hourly: remind shoppers a day before the pickup deadline (once per order)."""
    from . import pickup

    return pickup.send_reminders()
