"""Reads for the account security page: the second factors and the signed-in sessions."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from user_agents import parse

from .models import BackupCodeDevice, User, UserSession


@dataclass(frozen=True)
class TwoStepStatus:
    authenticators: list[TOTPDevice]
    backup_codes_left: int
    # Whether the account must keep a second factor (staff, or every shopper by setting).
    required: bool
    passkeys: list[WebAuthnCredential] = ()
    # Staff under SHOP_REQUIRE_STAFF_PASSKEY must keep a passkey.
    passkey_required: bool = False

    @property
    def on(self) -> bool:
        return bool(self.authenticators) or bool(self.passkeys)

    @property
    def last_one_is_required(self) -> bool:
        """The only authenticator app, and no passkey beside it, must stay."""
        return self.required and len(self.authenticators) + len(self.passkeys) == 1 and bool(self.authenticators)

    @property
    def last_passkey_is_required(self) -> bool:
        if len(self.passkeys) != 1:
            return False
        return self.passkey_required or (self.required and not self.authenticators)


def two_step_status(*, user: User) -> TwoStepStatus:
    authenticators = list(TOTPDevice.objects.filter(user=user, confirmed=True).order_by("created_at", "pk"))
    backup = BackupCodeDevice.objects.filter(user=user, confirmed=True).first()
    return TwoStepStatus(
        authenticators=authenticators,
        backup_codes_left=backup.remaining if backup and authenticators else 0,
        required=user.is_staff or settings.SHOP_REQUIRE_CUSTOMER_MFA,
        passkeys=list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")),
        passkey_required=bool(settings.SHOP_REQUIRE_STAFF_PASSKEY and user.is_staff),
    )


@dataclass(frozen=True)
class SignedInSession:
    id: int
    browser: str
    system: str
    device: str
    signed_in_at: datetime
    last_seen_at: datetime
    is_current: bool


def sessions_of(*, user: User, current_key: str | None) -> list[SignedInSession]:
    """The person's live sessions, the current one first, then by last seen.

    A row whose Django session is gone or expired (closed browser, time-out, signed out on
    another node) is not a live session, so it is not listed.
    """
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    rows = UserSession.objects.filter(user=user, session_key__in=live).order_by("-last_seen_at", "-pk")
    sessions = [_describe(row, is_current=row.session_key == current_key) for row in rows]
    return sorted(sessions, key=lambda session: not session.is_current)


def _describe(row: UserSession, *, is_current: bool) -> SignedInSession:
    agent = parse(row.user_agent or "")
    return SignedInSession(
        id=row.pk,
        browser=_name(agent.browser.family, agent.browser.version, parts=1, unknown="Unknown browser"),
        system=_name(agent.os.family, agent.os.version, parts=2, unknown="unknown system"),
        device="phone" if agent.is_mobile else "tablet" if agent.is_tablet else "computer",
        signed_in_at=row.created_at,
        last_seen_at=row.last_seen_at,
        is_current=is_current,
    )


def _name(family: str, version: tuple, *, parts: int, unknown: str) -> str:
    """ "Chrome 156", "iOS 17.4": enough to recognise a device; a full build number is noise."""
    if not family or family == "Other":
        return unknown
    return " ".join([family, ".".join(str(part) for part in version[:parts])]).strip()
