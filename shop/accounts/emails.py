"""The e-mails about sign-up, addresses and password resets: what each says and to whom.

Celery tasks (tasks.py) call these, never a view: a view answers the same, and as fast, whether
or not an e-mail goes out. Links are absolute (SITE_URL), since a worker has no request.

A bot that solves the challenge again and again could still fill a stranger's inbox, so each kind
of e-mail goes to one recipient at most once a minute; a later request in that minute sends
nothing (the person still has the first e-mail).
"""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.core.mail import template_headers

from . import links

_ONE_PER_RECIPIENT_SECONDS = 60


def send_verification(user) -> bool:
    """The link that confirms a new account's address (valid for SHOP_EMAIL_VERIFICATION_MAX_AGE)."""
    return _send(
        "verify",
        to=user.email,
        subject="confirm your e-mail address",
        template="emails/verify_email.txt",
        context={"user": user, "link": settings.SITE_URL + links.verification_path(user), "days": _link_days()},
    )


def send_signup_attempt_notice(user) -> bool:
    """Someone tried to sign up with an address that already has an account: tell its owner."""
    return _send(
        "signup-existing",
        to=user.email,
        subject="you already have an account",
        template="emails/signup_existing.txt",
        context={"user": user},
    )


def send_password_reset(user) -> bool:
    """Django's reset link: one hour (PASSWORD_RESET_TIMEOUT), dead once the password changes."""
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return _send(
        "password-reset",
        to=user.email,
        subject="reset your password",
        template="emails/password_reset.txt",
        context={"user": user, "link": settings.SITE_URL + path},
    )


def send_email_change_link(user, new_email: str) -> bool:
    """To the new address: the change takes effect when its owner opens this link."""
    return _send(
        "email-change",
        to=new_email,
        subject="confirm your new e-mail address",
        template="emails/email_change_confirm.txt",
        context={
            "user": user,
            "link": settings.SITE_URL + links.email_change_path(user, new_email),
            "days": _link_days(),
        },
    )


def send_email_taken_notice(email: str) -> bool:
    """To a new address that already has an account: the person who asked is not told so."""
    return _send(
        "email-taken",
        to=email,
        subject="this address already has an account",
        template="emails/email_change_taken.txt",
        context={},
    )


def _send(kind: str, *, to: str, subject: str, template: str, context: dict) -> bool:
    recipient = salted_hmac("shop.accounts.mail-recipient", to.lower(), algorithm="sha256").hexdigest()[:32]
    key = f"accounts.mail:{kind}:{recipient}"
    if not cache.add(key, True, timeout=_ONE_PER_RECIPIENT_SECONDS):
        return False
    context = {**context, "site_url": settings.SITE_URL, "shop_name": settings.SHOP_NAME}
    try:
        EmailMessage(
            subject=f"{settings.SHOP_NAME}: {subject}",
            body=render_to_string(template, context),
            to=[to],
            headers=template_headers(template),
        ).send()
    except Exception:
        cache.delete(key)  # not sent: the task's retry must not find the door shut
        raise
    return True


def _link_days() -> int:
    return settings.SHOP_EMAIL_VERIFICATION_MAX_AGE // (24 * 60 * 60)
