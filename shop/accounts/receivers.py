"""Audit and notices for what django-axes and django.contrib.auth report by signal."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from . import services
from .models import User


def _account_for(username):
    return User.objects.filter(email__iexact=(username or "").strip()).first() if username else None


@receiver(user_login_failed)
def audit_failed_password(sender, credentials, request=None, **kwargs):
    # Second-factor and step-up failures are recorded by the services that raise them.
    if request is None or sender == services.__name__:
        return
    user = _account_for(credentials.get("username"))
    services.record("login.failed", request=request, user=user, step="password")


@receiver(user_locked_out)
def audit_lockout(sender, request, username=None, ip_address=None, **kwargs):
    if getattr(request, "shop_already_locked_out", False):
        return  # an attempt refused during a lockout: audited as login.failed, not a new lockout
    user = _account_for(username)
    services.record("login.locked_out", request=request, user=user, scope="account" if username else "address")
    if user is not None:
        services.notify(user=user, kind="account_locked")
