"""Shared reads of the risk engine: holds, the review queue, list lookups, and the History the
features are computed from (indexed queries, a few cached for a minute or an hour)."""

import ipaddress
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from .interface import AccountFacts
from .models import ListEntry, Review, RiskAssessment

P95_FALLBACK_MINOR = 20000
_P95_KEY = "risk:shop_p95"
_NETWORKS_KEY = "risk:networks"


def is_held(*, order_id: int) -> bool:
    """True while the order waits for a fraud analyst: it must not be shipped or handed over.
    Rejected orders stay held too (orders cancels them when the rejection is announced)."""
    return Review.objects.filter(order_id=order_id).exclude(status=Review.Status.APPROVED).exists()


def review_for(*, order_id: int) -> Review | None:
    return Review.objects.filter(order_id=order_id).first()


def latest_assessment(*, order_id: int) -> RiskAssessment | None:
    return RiskAssessment.objects.filter(order_id=order_id).order_by("-created_at", "-pk").first()


def checkout_assessment(*, order_id: int) -> RiskAssessment | None:
    return (
        RiskAssessment.objects.filter(order_id=order_id, stage=RiskAssessment.Stage.CHECKOUT)
        .order_by("-created_at")
        .first()
    )


def pending_reviews():
    return Review.objects.filter(status=Review.Status.PENDING).select_related("assessment").order_by("created_at")


def _active_networks() -> list[tuple[str, str]]:
    networks = cache.get(_NETWORKS_KEY)
    if networks is None:
        networks = list(
            ListEntry.objects.filter(kind=ListEntry.Kind.NETWORK, expires_at__gt=timezone.now()).values_list(
                "network", "verdict"
            )
        )
        cache.set(_NETWORKS_KEY, networks, timeout=60)
    return networks


def forget_networks() -> None:
    cache.delete(_NETWORKS_KEY)


def listed(*, identities: dict[str, str], address: str, now: datetime | None = None) -> dict[str, str]:
    """Which identities are on a live list: {kind: "block" | "allow"}; a block outranks an allow."""
    now = now or timezone.now()
    kinds = {"email", "shipping", "device", "card"}
    hashes = {value for kind, value in identities.items() if kind in kinds}
    found: dict[str, str] = {}
    if hashes:
        rows = ListEntry.objects.filter(expires_at__gt=now, value_hash__in=hashes).values_list("kind", "verdict")
        for kind, verdict in rows:
            if found.get(kind) != "block":
                found[kind] = verdict
    if address:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        for network, verdict in _active_networks() if ip else ():
            if ip in ipaddress.ip_network(network, strict=False) and found.get("network") != "block":
                found["network"] = verdict
    return found


class DatabaseHistory:
    """What the features ask of the past, from the shop's own tables."""

    def shipping_seen(self, *, user_id: int, shipping_hash: str) -> bool:
        return RiskAssessment.objects.filter(user_id=user_id, shipping_hash=shipping_hash).exists()

    def shop_p95_minor(self) -> int:
        value = cache.get(_P95_KEY)
        if value is None:
            recent = RiskAssessment.objects.filter(
                stage=RiskAssessment.Stage.CHECKOUT, created_at__gte=timezone.now() - timedelta(days=30)
            )
            count = recent.count()
            value = P95_FALLBACK_MINOR
            if count >= 50:
                value = (
                    recent.order_by("amount_minor").values_list("amount_minor", flat=True)[int(count * 0.95)]
                    or P95_FALLBACK_MINOR
                )
            cache.set(_P95_KEY, value, timeout=3600)
        return value

    def account(self, *, user_id: int, session_key: str, now: datetime) -> AccountFacts | None:
        from django.contrib.auth import get_user_model
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from django_otp_webauthn.models import WebAuthnCredential

        from shop.accounts.models import UserSession
        from shop.core.models import AuditEvent

        user = get_user_model().objects.filter(pk=user_id).only("date_joined", "email_verified_at").first()
        if user is None:
            return None
        changed = (
            AuditEvent.objects.filter(
                Q(action__in=["password.changed", "password.reset", "email.changed", "mfa.removed"]),
                subject_type="accounts.user",
                subject_id=str(user_id),
                created_at__gte=now - timedelta(days=1),
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        session = (
            UserSession.objects.filter(session_key=session_key).values_list("created_at", flat=True).first()
            if session_key
            else None
        )
        return AccountFacts(
            age_days=(now - user.date_joined).total_seconds() / 86400,
            email_verified=user.email_verified_at is not None,
            has_mfa=TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()
            or WebAuthnCredential.objects.filter(user_id=user_id, confirmed=True).exists(),
            hours_since_credential_change=(now - changed).total_seconds() / 3600 if changed else None,
            session_age_minutes=(now - session).total_seconds() / 60 if session else None,
        )
