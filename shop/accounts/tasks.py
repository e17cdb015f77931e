"""Celery wrappers: they take ids and call a service or send one message."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .models import User

NOTICES = {
    "password_changed": "Your password was changed",
    "mfa_enabled": "Two-step sign-in was turned on",
    "mfa_disabled": "Two-step sign-in was turned off",
    "backup_code_used": "A backup code was used to sign in",
    "account_locked": "Sign-in to your account was paused after failed attempts",
}


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_security_notice(user_id: int, kind: str) -> bool:
    """Tell the person what happened and what to do if it was not them. A repeat is harmless."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or kind not in NOTICES:
        return False
    context = {"user": user, "kind": kind, "headline": NOTICES[kind], "site_url": settings.SITE_URL}
    send_mail(
        subject=f"{settings.SHOP_NAME}: {NOTICES[kind]}",
        message=render_to_string("emails/security_notice.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return True
