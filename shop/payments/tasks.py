"""Celery wrappers: they take ids and send one message."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from shop.core.mail import template_headers

from .models import Refund


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_refund_notice(refund_id: int) -> bool:
    refund = Refund.objects.select_related("payment__order").filter(pk=refund_id).first()
    if refund is None:
        return False
    order = refund.payment.order
    context = {"refund": refund, "order": order, "order_url": settings.SITE_URL + order.get_absolute_url()}
    EmailMessage(
        subject=f"{settings.SHOP_NAME}: refund for order {order.number}",
        body=render_to_string("emails/refund_notice.txt", context),
        to=[order.email],
        headers=template_headers("emails/refund_notice.txt"),
    ).send()
    return True
