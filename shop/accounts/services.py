"""Every write of accounts: login completion, MFA devices, backup codes, step-up, sessions, notices.

Audit events carry the user id and a keyed hash of the client address: never the e-mail, the
password or a code.
"""

import secrets
import time

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp import login as otp_login
from django_otp import user_has_device, verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.core import audit

from .lockout import client_ip
from .models import BackupCode, BackupCodeDevice, User, UserSession, hash_backup_code

# Session keys. All server-side: the cookie holds only the session id.
PENDING_LOGIN = "accounts.pending_login"  # password checked, second factor not yet
AUTHENTICATED_AT = "accounts.authenticated_at"
STEP_UP_AT = "accounts.step_up_at"
LAST_SEEN_AT = "accounts.last_seen_at"
REMEMBER_ME = "accounts.remember_me"
PENDING_LOGIN_SECONDS = 5 * 60
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


class AccountError(Exception):
    """A request the shop must refuse; `str(error)` is a message for the person."""


def address_hash(request) -> str:
    """A keyed hash of the client address: enough to link events from one address, not to reveal it."""
    return salted_hmac("shop.accounts.client-address", client_ip(request), algorithm="sha256").hexdigest()[:32]


def record(action: str, *, request, user=None, **data) -> None:
    audit.record(action, actor=user, subject=user, data={"address": address_hash(request), **data})


def needs_second_factor(user: User) -> bool:
    """Who must pass a second factor at login: everyone enrolled, all staff, all shoppers if the shop says so."""
    return user.is_staff or settings.SHOP_REQUIRE_CUSTOMER_MFA or user_has_device(user, confirmed=True)


# --- Login ------------------------------------------------------------------------------------


def begin_login(*, request, user: User, remember: bool) -> None:
    """The password was right; remember that (for 5 minutes) until the second factor is given."""
    request.session.cycle_key()
    request.session[PENDING_LOGIN] = {
        "user_id": user.pk,
        "backend": user.backend,
        "at": time.time(),
        "remember": remember,
    }


def pending_login_user(request) -> User | None:
    pending = request.session.get(PENDING_LOGIN)
    if not pending or time.time() - pending["at"] > PENDING_LOGIN_SECONDS:
        request.session.pop(PENDING_LOGIN, None)
        return None
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def complete_login(*, request, user: User, device=None, remember: bool | None = None) -> None:
    """Sign the person in: new session key, verified device, session clocks, audit."""
    if remember is None:
        remember = bool(request.session.get(PENDING_LOGIN, {}).get("remember"))
    request.session.pop(PENDING_LOGIN, None)
    auth.login(request, user)  # rotates the session key; user_logged_in merges the cart
    if device is not None:
        otp_login(request, device)
    now = time.time()
    request.session[AUTHENTICATED_AT] = now
    request.session[STEP_UP_AT] = now
    request.session[LAST_SEEN_AT] = now
    request.session[REMEMBER_ME] = remember and not user.is_staff
    # Remembered: the cookie outlives the browser; otherwise it ends when the browser closes.
    request.session.set_expiry(settings.SHOP_SESSION_ABSOLUTE["remembered"] if request.session[REMEMBER_ME] else 0)
    _register_session(request, user)
    record("login.succeeded", request=request, user=user, second_factor=device is not None)


def verify_second_factor(*, request, user: User, token: str):
    """Check a TOTP or backup code against the person's devices. Failures count towards lockout."""
    token = "".join((token or "").split())
    for device in _devices_for_verification(user, token):
        verified = verify_token(user, device.persistent_id, token)
        if verified is not None:
            if isinstance(verified, BackupCodeDevice):
                record("mfa.backup_code_used", request=request, user=user, remaining=verified.remaining)
                notify(user=user, kind="backup_code_used")
            return verified
    record("login.failed", request=request, user=user, step="second_factor")
    # axes counts this like a wrong password, for the same account and address.
    user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
    return None


def _devices_for_verification(user, token):
    totp = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    backup = list(BackupCodeDevice.objects.filter(user=user, confirmed=True))
    # A 6-digit token is a TOTP code; anything else is tried as a backup code.
    return totp if token.isdigit() and len(token) == 6 else backup


# --- MFA enrolment ----------------------------------------------------------------------------


def start_totp_enrolment(*, user: User) -> TOTPDevice:
    """A fresh, unconfirmed authenticator: shown as a QR code until a first code confirms it."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def confirm_totp(*, request, device: TOTPDevice, token: str) -> list[str]:
    """Confirm the authenticator with its first code; return the new backup codes (shown once)."""
    token = "".join((token or "").split())
    if not (token.isdigit() and len(token) == 6) or not device.verify_token(token):
        raise AccountError("That code did not match. Check the time on your phone and enter the current code.")
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = issue_backup_codes(user=device.user)
    record("mfa.enrolled", request=request, user=device.user, device="totp")
    notify(user=device.user, kind="mfa_enabled")
    return codes


def issue_backup_codes(*, user: User) -> list[str]:
    """Replace the person's backup codes with new ones and return them in plain text, once."""
    codes = ["".join(secrets.choice(_CROCKFORD) for _ in range(10)) for _ in range(settings.SHOP_BACKUP_CODE_COUNT)]
    with transaction.atomic():
        device, _ = BackupCodeDevice.objects.get_or_create(
            user=user, defaults={"name": "Backup codes", "confirmed": True}
        )
        device.codes.all().delete()
        BackupCode.objects.bulk_create(BackupCode(device=device, digest=hash_backup_code(code)) for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def regenerate_backup_codes(*, request, user: User) -> list[str]:
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise AccountError("Set up an authenticator app first; backup codes belong to it.")
    codes = issue_backup_codes(user=user)
    record("mfa.backup_codes_regenerated", request=request, user=user)
    return codes


def remove_totp_device(*, request, user: User, device_id: int) -> None:
    """Remove an authenticator. Staff (and every shopper when MFA is mandatory) keep at least one."""
    with transaction.atomic():
        devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
        device = next((d for d in devices if d.pk == device_id), None)
        if device is None:
            raise AccountError("That authenticator is not on your account any more.")
        if len(devices) == 1 and (user.is_staff or settings.SHOP_REQUIRE_CUSTOMER_MFA):
            raise AccountError(
                "Your account must keep a second factor. Add another authenticator before removing this one."
            )
        device.delete()
        if len(devices) == 1:
            BackupCodeDevice.objects.filter(user=user).delete()
    record("mfa.removed", request=request, user=user, device="totp")
    notify(user=user, kind="mfa_disabled")
    end_other_sessions(request=request, user=user)


# --- Step-up ----------------------------------------------------------------------------------


def step_up_is_fresh(request) -> bool:
    return time.time() - request.session.get(STEP_UP_AT, 0) <= settings.SHOP_STEP_UP_SECONDS


def step_up(*, request, user: User, password: str, token: str = "") -> None:
    """Re-authenticate a signed-in person: the password, and the second factor when enrolled."""
    if not user.check_password(password or ""):
        record("login.failed", request=request, user=user, step="step_up")
        user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
        raise AccountError("That password is not right.")
    if user_has_device(user, confirmed=True) and verify_second_factor(request=request, user=user, token=token) is None:
        raise AccountError("That code did not match.")
    request.session.cycle_key()
    request.session[STEP_UP_AT] = time.time()
    record("step_up", request=request, user=user)


# --- Passwords --------------------------------------------------------------------------------


def password_changed(*, request, user: User, how: str) -> None:
    """After a change or reset: audit, notice, and sign out every other session."""
    record("password.changed" if how == "change" else "password.reset", request=request, user=user)
    notify(user=user, kind="password_changed")
    end_other_sessions(request=request, user=user)


# --- Sessions ---------------------------------------------------------------------------------


def _register_session(request, user: User) -> None:
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "last_seen_at": timezone.now(),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "address_hash": address_hash(request),
        },
    )


def touch_session(*, request) -> None:
    request.session[LAST_SEEN_AT] = time.time()
    if request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).update(last_seen_at=timezone.now())


def end_session(*, request, user: User, session_id: int) -> None:
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise AccountError("That session has already ended.")
    _end(session)
    record("session.ended", request=request, user=user)


def end_other_sessions(*, request, user: User) -> int:
    keep = request.session.session_key if getattr(request, "user", None) == user else None
    others = list(UserSession.objects.filter(user=user).exclude(session_key=keep))
    for session in others:
        _end(session)
    return len(others)


def end_all_sessions(*, user: User, actor=None) -> int:
    sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        _end(session)
    audit.record("session.ended_all", actor=actor, subject=user, data={"count": len(sessions)})
    return len(sessions)


def _end(session: UserSession) -> None:
    SessionStore(session_key=session.session_key).delete()  # the database row and its cache entry
    session.delete()


def forget_session(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


# --- Security notices -------------------------------------------------------------------------


def notify(*, user: User, kind: str) -> None:
    """E-mail the person about a security-relevant change to their account (after commit)."""
    from .tasks import send_security_notice

    send_security_notice.delay_on_commit(user.pk, kind)
