"""Every write of accounts: login completion, MFA devices, backup codes, step-up, sessions, notices.

Audit events carry the user id and a keyed hash of the client address: never the e-mail, the
password or a code.
"""

import secrets
import time

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp import login as otp_login
from django_otp import user_has_device, verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from shop.core import audit

from . import emails, links
from .lockout import client_ip
from .models import BackupCode, BackupCodeDevice, User, UserSession, hash_backup_code
from .session_store import SessionStore

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


class SessionInUse(AccountError):
    """The person asked to end the very session they are using (that is signing out)."""


def address_hash(request) -> str:
    """A keyed hash of the client address: enough to link events from one address, not to reveal it."""
    return hash_address(client_ip(request))


def hash_address(ip_address: str) -> str:
    return salted_hmac("shop.accounts.client-address", ip_address, algorithm="sha256").hexdigest()[:32]


def record(action: str, *, request, user=None, **data) -> None:
    audit.record(action, actor=user, subject=user, data={"address": address_hash(request), **data})


def has_code_factor(user: User) -> bool:
    """An authenticator app (its codes, and the backup codes that belong to it)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


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


def mark_second_factor_passed(request) -> None:
    """The code was right, but the sign-in goes on (staff who must still create a passkey)."""
    pending = request.session.get(PENDING_LOGIN)
    if pending:
        request.session[PENDING_LOGIN] = {**pending, "second_factor": True}


def pending_second_factor_passed(request) -> bool:
    return bool((request.session.get(PENDING_LOGIN) or {}).get("second_factor"))


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
    devices = _devices_for_verification(user, token)
    if devices and not any(device.verify_is_allowed()[0] for device in devices):
        # django-otp's back-off after a wrong code (1, 2, 4 ... seconds): not another failure.
        raise AccountError("Too many wrong codes in a row. Wait a few seconds, then enter the current code.")
    for device in devices:
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


def turn_on_two_step(*, request, device: TOTPDevice, token: str) -> list[str]:
    """A signed-in person confirms a new authenticator from their security page.

    This session becomes verified by the new device and gets a new key (a privilege change), and
    every other session of the account ends: whoever else was signed in did not pass this factor.
    """
    codes = confirm_totp(request=request, device=device, token=token)
    otp_login(request, device)
    request.session.cycle_key()
    end_other_sessions(request=request, user=device.user)
    return codes


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
        passkeys = WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
        if len(devices) == 1 and not passkeys and (user.is_staff or settings.SHOP_REQUIRE_CUSTOMER_MFA):
            raise AccountError(
                "Your account must keep a second factor. Add another authenticator before removing this one."
            )
        device.delete()
        if len(devices) == 1:
            BackupCodeDevice.objects.filter(user=user).delete()
    record("mfa.removed", request=request, user=user, device="totp")
    notify(user=user, kind="authenticator_removed" if passkeys else "mfa_disabled")
    end_other_sessions(request=request, user=user)


# --- Step-up ----------------------------------------------------------------------------------


def step_up_is_fresh(request) -> bool:
    return time.time() - request.session.get(STEP_UP_AT, 0) <= settings.SHOP_STEP_UP_SECONDS


def step_up(*, request, user: User, password: str, token: str = "", passkey: str = "") -> None:
    """Re-authenticate a signed-in person: the password, and the second factor when enrolled
    (a code from the app, a backup code, or a passkey assertion)."""
    if not user.check_password(password or ""):
        record("login.failed", request=request, user=user, step="step_up")
        user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
        raise AccountError("That password is not right.")
    if passkey:
        from . import passkeys

        passkeys.verify_assertion(request=request, purpose="step_up", credential_json=passkey, user=user)
    elif user_has_device(user, confirmed=True):
        if not has_code_factor(user):
            raise AccountError("Your account signs in with a passkey: choose “Confirm with a passkey”.")
        if verify_second_factor(request=request, user=user, token=token) is None:
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
    """End one of the person's own sessions (another user's id is "already ended", nothing more)."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise AccountError("That session has already ended.")
    if session.session_key == request.session.session_key:
        raise SessionInUse("That is the session you are using now. To end it, sign out.")
    _end(session)
    record("session.ended", request=request, user=user, session=session_id)


def sign_out_everywhere_else(*, request, user: User) -> int:
    """The person's "sign out everywhere else": every session but this one ends."""
    count = end_other_sessions(request=request, user=user)
    record("session.ended_others", request=request, user=user, count=count)
    return count


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


def unlock_sign_in(*, attempts, actor: User) -> int:
    """Staff lift a lockout: the failure counters go, and the audit log says who lifted it.

    A lockout is nothing but axes' AccessAttempt rows (per account and address, and summed per
    address), so deleting them is the unlock. The event names the account by id and the address
    by its keyed hash, never the e-mail or the address itself.
    """
    count = 0
    with transaction.atomic():
        for attempt in attempts:
            account = User.objects.filter(email__iexact=attempt.username).first() if attempt.username else None
            audit.record(
                "login.unlocked",
                actor=actor,
                subject=account,
                data={"address": hash_address(attempt.ip_address or ""), "failures": attempt.failures_since_start},
            )
            attempt.delete()
            count += 1
    return count


def forget_session(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


# --- Security notices -------------------------------------------------------------------------


def notify(*, user: User, kind: str) -> None:
    """E-mail the person about a security-relevant change to their account (after commit)."""
    from .tasks import send_security_notice

    send_security_notice.delay_on_commit(user.pk, kind)


# --- Sign-up, e-mail addresses, password reset ------------------------------------------------
# None of these may tell the person at the keyboard whether an address has an account: a known
# and an unknown address take the same path here (same work, same audit write, one task queued)
# and differ only inside the Celery task, in what the e-mail says.


class LinkError(AccountError):
    """A link from one of our e-mails that is forged, expired, or already used."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


class _Rehearsal(Exception):
    """Raised to roll back the account opened for a known address (see sign_up)."""


def _open_account(*, request, email: str, password: str, marketing_opt_in: bool) -> User:
    from shop.privacy import consent  # the proof of the sign-up form's marketing choice

    user = User.objects.create_user(
        email=email, password=password, marketing_opt_in_at=timezone.now() if marketing_opt_in else None
    )
    record("signup", request=request, user=user, marketing_opt_in=marketing_opt_in)
    consent.record_choice(user=user, key="marketing_email", granted=marketing_opt_in, source="signup")
    return user


def _rehearse_account(*, password: str, marketing_opt_in: bool) -> None:
    """The same writes as _open_account but its audit event (the caller writes its own), then undone."""
    from shop.privacy import consent

    placeholder = f"rehearsal-{secrets.token_hex(8)}@signup.invalid"
    user = User.objects.create_user(
        email=placeholder, password=password, marketing_opt_in_at=timezone.now() if marketing_opt_in else None
    )
    consent.record_choice(user=user, key="marketing_email", granted=marketing_opt_in, source="signup")
    raise _Rehearsal


def sign_up(*, request, email: str, password: str, marketing_opt_in: bool) -> None:
    """Create an account and send the link that confirms its address.

    For an address that already has an account, nothing changes: its owner gets an e-mail that
    someone tried to sign up, with the way to reset the password. The answer must not tell the
    two apart, by its words nor by its time: an account for a new address costs a password hash,
    an INSERT, a consent record and two audit events. So for a known address the same account is
    opened under a placeholder address inside a transaction that is then rolled back, and the
    "existing address" event takes the place of the "signup" one: the same writes, the hash
    included, and nothing left behind.
    """
    from .tasks import send_email_verification, send_signup_attempt_notice

    email = User.objects.normalize_email(email).lower()
    existing = User.objects.filter(email__iexact=email).first()
    user = None
    try:
        with transaction.atomic():
            if existing is None:
                user = _open_account(request=request, email=email, password=password, marketing_opt_in=marketing_opt_in)
            else:
                _rehearse_account(password=password, marketing_opt_in=marketing_opt_in)
    except _Rehearsal:
        pass
    except IntegrityError:  # signed up a moment ago by a request racing this one
        existing = User.objects.filter(email__iexact=email).first()
    if user is not None:
        send_email_verification.delay_on_commit(user.pk)
        return
    record("signup.existing_address", request=request, user=existing)
    if existing is not None:
        send_signup_attempt_notice.delay_on_commit(existing.pk)


def read_verification_link(token: str) -> User:
    """The account a sign-up link confirms. Raises LinkError for a forged, expired or stale link."""
    claim = _read_link(links.verification_claim, token)
    user = User.objects.filter(pk=claim.user_id, is_active=True).first()
    if user is None or not claim.still_matches(user.email):
        raise LinkError("This link is not valid for your account any more.")
    return user


def verify_email(*, request, token: str) -> User:
    """Mark the address confirmed, once. Opening the link again changes nothing."""
    user = read_verification_link(token)
    now = timezone.now()
    if User.objects.filter(pk=user.pk, email_verified_at=None).update(email_verified_at=now):
        user.email_verified_at = now
        record("email.verified", request=request, user=user)
    return user


def resend_verification(*, user: User) -> bool:
    """Another sign-up link for a signed-in person whose address is not confirmed yet."""
    from .tasks import send_email_verification

    if user.email_verified_at is not None:
        return False
    send_email_verification.delay_on_commit(user.pk)
    return True


def request_password_reset(*, request, email: str) -> None:
    """Queue the reset e-mail. The task looks the address up, so that an unknown address costs
    the same here as a known one; it sends nothing for an unknown one."""
    from .tasks import send_password_reset

    send_password_reset.delay_on_commit(email.strip(), address_hash(request))


def send_password_reset(*, email: str, address: str) -> int:
    """The task's half: the link to every active account with this address and a usable password."""
    sent = 0
    for user in PasswordResetForm().get_users(email):
        if emails.send_password_reset(user):
            audit.record("password.reset_requested", subject=user, data={"address": address})
            sent += 1
    return sent


def change_password(*, request, user: User, new_password: str) -> None:
    """A signed-in person changed their password (the form checked the current one)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
    # Keeps this session signed in under the new password hash, and rotates its key: the change
    # is a privilege change (update_session_auth_hash calls session.cycle_key()).
    auth.update_session_auth_hash(request, user)
    password_changed(request=request, user=user, how="change")


def request_email_change(*, request, user: User, new_email: str) -> None:
    """Send the new address a link that makes the change, and tell the current address.

    If the new address belongs to another account, its owner is told so instead and the person
    asking sees the same "check your inbox" page: the form must not be a way to test addresses.
    """
    from .tasks import send_email_change_link, send_email_taken_notice

    new_email = User.objects.normalize_email(new_email).lower()
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        send_email_taken_notice.delay_on_commit(new_email)
    else:
        send_email_change_link.delay_on_commit(user.pk, new_email)
    record("email.change_requested", request=request, user=user)
    notify(user=user, kind="email_change_requested")


def read_email_change_link(token: str) -> tuple[User, str]:
    """The account and the new address of a change link. Raises LinkError if it cannot be used."""
    claim = _read_link(links.email_change_claim, token)
    return _account_for_change(claim, User.objects.all()), claim.new_email


def change_email(*, request, token: str) -> User:
    """The owner of the new address opened the link: the account now signs in with it."""
    claim = _read_link(links.email_change_claim, token)
    taken = AccountError("That address now belongs to another account, so it cannot be used for this one.")
    with transaction.atomic():
        # Locked, so that two clicks on the same link cannot both pass the check below.
        user = _account_for_change(claim, User.objects.select_for_update())
        if User.objects.filter(email__iexact=claim.new_email).exclude(pk=user.pk).exists():
            raise taken
        user.email = claim.new_email
        user.email_verified_at = timezone.now()  # the link reached this address: it is confirmed
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified_at"])
        except IntegrityError as error:  # taken by a sign-up racing this request
            raise taken from error
    record("email.changed", request=request, user=user)
    return user


def _account_for_change(claim, accounts) -> User:
    user = accounts.filter(pk=claim.user_id, is_active=True).first()
    # The link names the address the account had when it was sent: after the change it is dead.
    if user is None or not claim.still_matches(user.email):
        raise LinkError("This link was already used, or the address of the account changed since it was sent.")
    return user


def _read_link(read, token: str):
    try:
        return read(token)
    except signing.SignatureExpired as error:
        raise LinkError("This link has expired.", expired=True) from error
    except signing.BadSignature as error:
        raise LinkError("This link is not valid. Please copy the whole link from the e-mail.") from error
