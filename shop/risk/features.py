"""From facts to features: the numbers and flags that rules and the model score.

Every feature is a float (flags are 0/1), named in FEATURES so that a stored model says which
ones it uses. Lookups go through a `History` (the database in the shop, memory in the simulator):
indexed queries only, plus the velocity counters in the shared cache.
"""

import re
from datetime import datetime
from typing import Protocol

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from django.conf import settings

from . import hashing, velocity
from .interface import AccountFacts, OrderFacts, PaymentAttemptFacts
from .velocity import DAY, HOUR

FEATURES = [
    # account
    "is_guest",
    "account_age_days",
    "email_unverified",
    "no_mfa",
    "credential_changed_24h",
    "fresh_session",
    "prior_orders",
    # the order
    "total_minor",
    "total_vs_history",
    "total_vs_shop",
    "max_quantity",
    "high_resale_share",
    "new_shipping_address",
    "pickup_id_check",
    # e-mail
    "disposable_email",
    "machine_email",
    # velocity
    "orders_device_1h",
    "orders_address_1h",
    "orders_email_24h",
    "attempts_session_1h",
    "cards_session_24h",
    "cards_account_24h",
    "declines_24h",
    # payment
    "country_mismatch",
    "cvc_failed",
    "address_check_failed",
    "gateway_risk",
]

_DIGITS = re.compile(r"\d")


class History(Protocol):
    def shipping_seen(self, *, user_id: int, shipping_hash: str) -> bool: ...

    def shop_p95_minor(self) -> int: ...

    def account(self, *, user_id: int, session_key: str, now: datetime) -> AccountFacts | None: ...


def email_features(address: str) -> dict[str, float]:
    local, _, domain = address.strip().casefold().rpartition("@")
    digits = len(_DIGITS.findall(local))
    # Many digits, or a long run of letters with no vowels: addresses made by a script.
    machine = bool(local) and (digits >= 5 or digits / len(local) > 0.4 or re.search(r"[^aeiou\d._+-]{7,}", local))
    return {"disposable_email": float(domain in DISPOSABLE_DOMAINS), "machine_email": float(bool(machine))}


def order_features(facts: OrderFacts, *, history: History, now: datetime) -> tuple[dict[str, float], dict[str, str]]:
    """Features of a checkout, and the hashed identities it was counted under."""
    who = velocity.subjects(user_id=facts.user_id, client=facts.client, email=facts.email)
    ship = hashing.shipping_hash(
        street=facts.shipping_street,
        postal_code=facts.shipping_postal_code,
        city=facts.shipping_city,
        country=facts.shipping_country,
    )
    if ship:
        who["shipping"] = ship
    counters = velocity.read(
        [(f"orders:{kind}:{who[kind]}", HOUR) for kind in ("device", "address") if kind in who]
        + ([(f"orders:email:{who['email']}", DAY)] if "email" in who else []),
        now=now,
    )
    account = facts.account
    if account is None and facts.user_id:
        account = history.account(user_id=facts.user_id, session_key=facts.client.session_key, now=now)
    units = sum(line.quantity for line in facts.lines) or 1
    resale = sum(line.quantity for line in facts.lines if line.category_slug in settings.RISK_HIGH_RESALE_CATEGORIES)
    p95 = max(history.shop_p95_minor(), 1)
    features = {
        "is_guest": float(not facts.user_id),
        "account_age_days": min(account.age_days, 3650.0) if account else 0.0,
        "email_unverified": float(bool(account) and not account.email_verified),
        "no_mfa": float(bool(account) and not account.has_mfa),
        "credential_changed_24h": float(
            bool(account)
            and account.hours_since_credential_change is not None
            and account.hours_since_credential_change < 24
        ),
        "fresh_session": float(
            bool(account) and account.session_age_minutes is not None and account.session_age_minutes < 60
        ),
        "prior_orders": float(min(facts.prior_orders, 50)),
        "total_minor": float(facts.total_minor),
        "total_vs_history": facts.total_minor / facts.prior_max_minor if facts.prior_max_minor else 0.0,
        "total_vs_shop": facts.total_minor / p95,
        "max_quantity": float(max((line.quantity for line in facts.lines), default=0)),
        "high_resale_share": resale / units,
        "new_shipping_address": float(
            bool(ship)
            and bool(facts.user_id)
            and facts.prior_orders > 0
            and not history.shipping_seen(user_id=facts.user_id, shipping_hash=ship)
        ),
        "pickup_id_check": float(
            facts.fulfillment == "pickup" and facts.total_minor >= settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR
        ),
        **email_features(facts.email),
        "orders_device_1h": counters.get((f"orders:device:{who.get('device')}", HOUR), 0.0),
        "orders_address_1h": counters.get((f"orders:address:{who.get('address')}", HOUR), 0.0),
        "orders_email_24h": counters.get((f"orders:email:{who.get('email')}", DAY), 0.0),
        "_shipping_country": facts.shipping_country,
    }
    return features, who


def count_order(who: dict[str, str], *, now: datetime) -> None:
    velocity.bump(
        [(f"orders:{kind}:{who[kind]}", HOUR) for kind in ("device", "address") if kind in who]
        + ([(f"orders:email:{who['email']}", DAY)] if "email" in who else []),
        now=now,
    )


def payment_features(
    facts: PaymentAttemptFacts, *, checkout: dict[str, float], now: datetime
) -> tuple[dict[str, float], dict[str, str]]:
    """Features of a payment attempt on top of its order's checkout features."""
    who = velocity.subjects(user_id=facts.user_id, client=facts.client, card_fingerprint=facts.card_fingerprint)
    wanted = [(f"attempts:session:{who['session']}", HOUR)] if "session" in who else []
    for kind in ("session", "account"):
        if kind in who:
            wanted += [(f"cards:{kind}:{who[kind]}", DAY), (f"decline:{kind}:{who[kind]}", DAY)]
    counters = velocity.read(wanted, now=now)

    def count(name: str, kind: str, window: int) -> float:
        return counters.get((f"{name}:{kind}:{who[kind]}", window), 0.0) if kind in who else 0.0

    shipping_country = facts.shipping_country or str(checkout.get("_shipping_country", ""))
    features = {name: float(checkout.get(name, 0.0)) for name in FEATURES}
    features.update(
        {
            "attempts_session_1h": count("attempts", "session", HOUR),
            "cards_session_24h": count("cards", "session", DAY),
            "cards_account_24h": count("cards", "account", DAY),
            "declines_24h": max(count("decline", "session", DAY), count("decline", "account", DAY)),
            "country_mismatch": float(
                bool(facts.card_country) and bool(shipping_country) and facts.card_country != shipping_country
            ),
            "cvc_failed": float(facts.cvc_check == "fail"),
            "address_check_failed": float(facts.address_check == "fail"),
            "gateway_risk": {"elevated": 1.0, "highest": 2.0}.get(facts.gateway_risk_level, 0.0),
        }
    )
    return features, who


def count_attempt(who: dict[str, str], *, now: datetime) -> None:
    if "session" in who:
        velocity.bump([(f"attempts:session:{who['session']}", HOUR)], now=now)


def vector(features: dict[str, float], names: list[str]) -> list[float]:
    return [float(features.get(name, 0.0)) for name in names]
