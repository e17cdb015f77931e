"""Celery wrappers: they take ids and call a service or send one message."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from shop.core.mail import template_headers

from . import emails
from .models import User

NOTICES = {
    "password_changed": "Your password was changed",
    "mfa_enabled": "Two-step sign-in was turned on",
    "mfa_disabled": "Two-step sign-in was turned off",
    "backup_code_used": "A backup code was used to sign in",
    "account_locked": "Sign-in to your account was paused after failed attempts",
    "email_change_requested": "A new e-mail address was requested for your account",
    "authenticator_removed": "An authenticator app was removed from your account",
    "passkey_added": "A passkey was added to your account",
    "passkey_removed": "A passkey was removed from your account",
    "passkey_cloned": "A copy of one of your passkeys was refused",
}


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=8)
def send_security_notice(user_id: int, kind: str) -> bool:
    """Tell the person what happened and what to do if it was not them. A repeat is harmless."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or kind not in NOTICES:
        return False
    context = {"user": user, "kind": kind, "headline": NOTICES[kind], "site_url": settings.SITE_URL}
    EmailMessage(
        subject=f"{settings.SHOP_NAME}: {NOTICES[kind]}",
        body=render_to_string("emails/security_notice.txt", context),
        to=[user.email],
        headers=template_headers("emails/security_notice.txt"),
    ).send()
    return True


# --- Sign-up, addresses, password reset (shop/accounts/emails.py says what each e-mail holds) ---

_MAIL = {"acks_late": True, "autoretry_for": (SMTPException, OSError), "retry_backoff": True, "max_retries": 8}


@shared_task(**_MAIL)
def send_email_verification(user_id: int) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at=None).first()
    return emails.send_verification(user) if user else False


@shared_task(**_MAIL)
def send_signup_attempt_notice(user_id: int) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return emails.send_signup_attempt_notice(user) if user else False


@shared_task(**_MAIL)
def send_password_reset(email: str, address: str) -> int:
    """Takes the address as typed, because an unknown one has no id: the lookup happens here."""
    from . import services

    return services.send_password_reset(email=email, address=address)


@shared_task(**_MAIL)
def send_email_change_link(user_id: int, new_email: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return emails.send_email_change_link(user, new_email) if user else False


@shared_task(**_MAIL)
def send_email_taken_notice(email: str) -> bool:
    return emails.send_email_taken_notice(email)
