"""Passkeys (WebAuthn): registration, every use of one, removal, and the staff policy.

A passkey is a django-otp device (django-otp-webauthn's `WebAuthnCredential`), so a session
verified by one is `is_verified()` like a session verified by a TOTP code, and the OTP admin
accepts it. The cryptography is py_webauthn's (through the library's `WebAuthnHelper`); what is
ours is the policy around it:

- The relying party is SITE_URL (`SHOP_PASSKEY_RP_ID`, `SHOP_PASSKEY_ORIGIN`): an assertion that
  a browser made for another origin or RP id fails py_webauthn's checks.
- User verification (PIN, fingerprint, face) is required at registration and at every use, so a
  passkey alone stands for two factors and may sign in without a password.
- Each ceremony's challenge lives in this session, for one purpose and one use: it is popped
  before the answer is checked, so a replayed assertion finds no challenge.
- The credential row is locked while its signature counter is compared, so two requests racing
  with one assertion cannot both pass. A counter that does not go up (when the authenticator
  keeps one) means a cloned authenticator: refused, audited and e-mailed to the owner.

Audit events carry ids only (user, passkey), never the e-mail, the public key or the credential id.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential, WebAuthnUserHandle
from webauthn import base64url_to_bytes, verify_authentication_response
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationRequirement

from .models import User
from .services import AccountError, end_other_sessions, notify, record

# The session keeps one pending ceremony per purpose: {purpose: {"challenge", "user_id", "at"}}.
SESSION_CEREMONIES = "accounts.passkey_ceremonies"
PRESENCE_AT = "accounts.passkey_presence_at"
PURPOSES = ("register", "sign_in", "second_factor", "step_up", "presence")
NAME_MAX_LENGTH = 64


class PasskeyError(AccountError):
    """A passkey ceremony the shop refuses; the message says what to do next."""

    status = 400


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's helper with the shop's relying party and stricter choices."""

    passkey_name = ""

    def get_relying_party_domain(self) -> str:
        return settings.SHOP_PASSKEY_RP_ID

    def get_relying_party_name(self) -> str:
        return settings.SHOP_NAME

    def get_allowed_origins(self) -> list[str]:
        return [settings.SHOP_PASSKEY_ORIGIN]

    def get_credential_name(self, user) -> str:
        return user.email  # shown only by the person's own authenticator, to pick the account

    def get_credential_display_name(self, user) -> str:
        return user.email

    def get_generate_registration_options_kwargs(self, *, user) -> dict:
        # The library asks for user verification only as "preferred"; we require it, so that a
        # passkey is something you have *and* something you are or know.
        kwargs = super().get_generate_registration_options_kwargs(user=user)
        kwargs["authenticator_selection"] = AuthenticatorSelectionCriteria(
            user_verification=UserVerificationRequirement.REQUIRED, resident_key=ResidentKeyRequirement.REQUIRED
        )
        return kwargs

    def create_credential(self, user, response, parsed_credential, original_data):
        device = super().create_credential(user, response, parsed_credential, original_data)
        device.name = self.passkey_name
        return device


def _helper(request, name: str = "") -> PasskeyHelper:
    helper = PasskeyHelper(request=request)
    helper.passkey_name = name
    return helper


# --- Reads --------------------------------------------------------------------------------------


def passkeys_of(*, user: User) -> list[WebAuthnCredential]:
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk"))


def has_passkey(*, user: User) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def staff_passkey_required(user: User) -> bool:
    """With SHOP_REQUIRE_STAFF_PASSKEY, staff open the admin only in a session a passkey verified."""
    return bool(settings.SHOP_REQUIRE_STAFF_PASSKEY and user.is_active and user.is_staff)


def verified_by_passkey(request) -> bool:
    return isinstance(getattr(request.user, "otp_device", None), WebAuthnCredential)


def presence_is_fresh(request) -> bool:
    return time.time() - request.session.get(PRESENCE_AT, 0) <= settings.SHOP_PASSKEY_PRESENCE_SECONDS


# --- Ceremony state ---------------------------------------------------------------------------


def _remember(request, purpose: str, state: dict, user: User | None) -> None:
    ceremonies = dict(request.session.get(SESSION_CEREMONIES, {}))
    ceremonies[purpose] = {**state, "user_id": user.pk if user else None, "at": time.time()}
    request.session[SESSION_CEREMONIES] = ceremonies


def _take(request, purpose: str, user: User | None) -> dict:
    """The pending challenge for this purpose, removed at once: a challenge answers one assertion."""
    ceremonies = dict(request.session.get(SESSION_CEREMONIES, {}))
    state = ceremonies.pop(purpose, None)
    request.session[SESSION_CEREMONIES] = ceremonies
    request.session.save()  # gone even if what follows fails
    expired = state is None or time.time() - state["at"] > settings.OTP_WEBAUTHN_TIMEOUT_SECONDS
    if expired or state["user_id"] != (user.pk if user else None):
        raise PasskeyError("That passkey request has expired or was already used. Please try again.")
    return state


def _parse(credential_json: str) -> dict:
    try:
        data = json.loads(credential_json or "")
    except (TypeError, ValueError) as error:
        raise PasskeyError("Your browser did not send a passkey answer. Please try again.") from error
    if not isinstance(data, dict):
        raise PasskeyError("Your browser did not send a passkey answer. Please try again.")
    return data


# --- Registration -----------------------------------------------------------------------------


def registration_options(*, request, user: User) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge stays in the session."""
    options, state = _helper(request).register_begin(user=user)
    _remember(request, "register", state, user)
    return json.dumps(options)


def register_passkey(*, request, user: User, credential_json: str, name: str) -> WebAuthnCredential:
    """Check the new passkey's attestation against the challenge, origin and RP id, and keep it."""
    name = " ".join((name or "").split())[:NAME_MAX_LENGTH] or "Passkey"
    state = _take(request, "register", user)
    state["require_user_verification"] = True
    data = _parse(credential_json)
    try:
        with transaction.atomic():
            device = _helper(request, name).register_complete(user=user, state=state, data=data)
    except (WebAuthnException, KeyError, ValueError, TypeError, IntegrityError) as error:
        # IntegrityError: a credential id that is already registered (to anyone) is not taken twice.
        record("passkey.registration_failed", request=request, user=user)
        raise PasskeyError("That passkey could not be added. Please try again, or use another device.") from error
    record("passkey.registered", request=request, user=user, passkey=device.pk)
    notify(user=user, kind="passkey_added")
    return device


def turn_on_passkey(*, request, user: User, credential_json: str, name: str) -> WebAuthnCredential:
    """From the security page: like a new authenticator, the passkey now verifies this session,
    which gets a new key; other sessions end (they did not pass this factor)."""
    from django_otp import login as otp_login

    device = register_passkey(request=request, user=user, credential_json=credential_json, name=name)
    otp_login(request, device)
    request.session.cycle_key()
    end_other_sessions(request=request, user=user)
    return device


# --- Using a passkey ----------------------------------------------------------------------------


def assertion_options(*, request, purpose: str, user: User | None = None) -> str:
    """Options for navigator.credentials.get(). With a user, only their passkeys are offered; without
    one (sign-in with no password) the authenticator offers its discoverable credentials."""
    assert purpose in PURPOSES and purpose != "register"
    options, state = _helper(request).authenticate_begin(user=user, require_user_verification=True)
    _remember(request, purpose, state, user)
    return json.dumps(options)


def verify_assertion(*, request, purpose: str, credential_json: str, user: User | None = None) -> WebAuthnCredential:
    """Check a passkey assertion; return the passkey (locked, counter updated) or raise PasskeyError.

    `user` is the account the assertion must belong to (second factor, step-up, presence); None
    for the sign-in without a password, where the passkey names the account.
    """
    try:
        state = _take(request, purpose, user)
    except PasskeyError:
        # No challenge waiting: a replayed answer, or one from another session. Refused and audited.
        record("passkey.failed", request=request, user=user, purpose=purpose, reason="no_challenge")
        raise
    data = _parse(credential_json)
    device, failure = _check_and_count(request, state=state, data=data, user=user)
    if failure is None:
        record("passkey.used", request=request, user=device.user, passkey=device.pk, purpose=purpose)
        return device
    owner = device.user if device is not None else user
    record("passkey.failed", request=request, user=owner, purpose=purpose, reason=failure)
    if failure == "counter_regressed":
        notify(user=device.user, kind="passkey_cloned")
    # Counted by axes like a wrong password, for the account (when known) and the address.
    user_login_failed.send(sender=__name__, credentials={"username": owner.email if owner else None}, request=request)
    if failure == "counter_regressed":
        raise PasskeyError(
            "This passkey was refused: it looks like a copy of your authenticator. We e-mailed the account owner."
        )
    raise PasskeyError("That passkey did not work here. Try again, or use another way to sign in.")


def _check_and_count(request, *, state: dict, data: dict, user: User | None):
    """(device, None) when the assertion is good; (device or None, reason) when it is not."""
    try:
        credential = parse_authentication_credential_json(data)
    except (WebAuthnException, KeyError, ValueError, TypeError):
        return None, "malformed"
    helper = _helper(request)
    with transaction.atomic():
        device = (
            WebAuthnCredential.objects.select_for_update()
            .select_related("user")
            .filter(credential_id_sha256=WebAuthnCredential.get_credential_id_sha256(credential.raw_id))
            .first()
        )
        if device is None:
            return None, "unknown_passkey"
        if user is not None and device.user_id != user.pk:
            return None, "other_account"  # not "their" device: the owner is not told about a stranger
        if not device.confirmed or not device.user.is_active:
            return device, "disabled"
        try:
            # The counter is compared below, under the lock, so that a regression is reported as
            # such (py_webauthn would only raise a generic error): pass 0 here.
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(state["challenge"]),
                expected_rp_id=helper.get_relying_party_domain(),
                expected_origin=helper.get_allowed_origins(),
                credential_public_key=device.public_key,
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except (WebAuthnException, KeyError, ValueError, TypeError):
            return device, "invalid"
        if (verified.new_sign_count or device.sign_count) and verified.new_sign_count <= device.sign_count:
            return device, "counter_regressed"
        device.sign_count = verified.new_sign_count
        device.backup_state = verified.credential_backed_up
        device.last_used_at = timezone.now()
        device.save(update_fields=["sign_count", "backup_state", "last_used_at"])
    return device, None


def confirm_presence(*, request, credential_json: str) -> None:
    """The signed-in owner proved they hold the phone just now (before a pickup code is shown)."""
    verify_assertion(request=request, purpose="presence", credential_json=credential_json, user=request.user)
    request.session[PRESENCE_AT] = time.time()


# --- Removal ------------------------------------------------------------------------------------


def remove_passkey(*, request, user: User, device_id: int) -> None:
    """Remove a passkey. Staff keep a second factor (and a passkey, under the staff policy)."""
    with transaction.atomic():
        passkeys = list(WebAuthnCredential.objects.select_for_update().filter(user=user, confirmed=True))
        device = next((d for d in passkeys if d.pk == device_id), None)
        if device is None:
            raise PasskeyError("That passkey is not on your account any more.")
        others = len(passkeys) - 1 + TOTPDevice.objects.filter(user=user, confirmed=True).count()
        if others == 0 and (user.is_staff or settings.SHOP_REQUIRE_CUSTOMER_MFA):
            raise PasskeyError("Your account must keep a second factor. Add another one before removing this passkey.")
        if len(passkeys) == 1 and staff_passkey_required(user):
            raise PasskeyError("Staff accounts must keep a passkey. Add another passkey before removing this one.")
        device.delete()
    record("passkey.removed", request=request, user=user, passkey=device_id)
    notify(user=user, kind="passkey_removed")
    end_other_sessions(request=request, user=user)


def erase_passkeys(*, user, queryset) -> int:
    """Erasure: the passkeys and the account's WebAuthn user handle (what authenticators store)."""
    count, _ = WebAuthnCredential.objects.filter(user=user).delete()
    WebAuthnUserHandle.objects.filter(user=user).delete()
    return count
