"""The documented rule set: points per signal, summed and capped to 0-100, with the reasons.

Each rule is (code, points, test, words): `test(features)` says whether it fires, `words(features)`
what a reviewer reads. The rules score every order until a trained model is in use, and beside it
afterwards (shadow mode, see shop/risk/scoring.py). README "Risk engine" lists them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .interface import Reason

F = dict[str, float]


@dataclass(frozen=True)
class Rule:
    code: str
    points: int
    test: Callable[[F], bool]
    words: Callable[[F], str]


def _n(value: float) -> str:
    return f"{value:.0f}"


RULES: list[Rule] = [
    # The account
    Rule("guest", 8, lambda f: f["is_guest"] == 1, lambda f: "Guest checkout: no account history"),
    Rule(
        "new_account",
        15,
        lambda f: f["is_guest"] == 0 and f["account_age_days"] < 1,
        lambda f: "Account created less than a day ago",
    ),
    Rule("email_unverified", 5, lambda f: f["email_unverified"] == 1, lambda f: "E-mail address never confirmed"),
    Rule(
        "credential_change",
        25,
        lambda f: f["credential_changed_24h"] == 1,
        lambda f: "E-mail or password changed or reset in the last 24 hours",
    ),
    Rule(
        "fresh_session",
        10,
        lambda f: f["fresh_session"] == 1 and f["account_age_days"] >= 7,
        lambda f: "Signed in to an older account from a new session in the last hour",
    ),
    Rule(
        "returning_customer",
        -15,
        lambda f: f["prior_orders"] >= 3 and f["credential_changed_24h"] == 0,
        lambda f: f"Returning customer with {_n(f['prior_orders'])} completed orders",
    ),
    # The order
    Rule(
        "above_history",
        15,
        lambda f: f["total_vs_history"] > 3,
        lambda f: f"Total is {f['total_vs_history']:.1f}× this customer's largest order so far",
    ),
    Rule(
        "large_order",
        10,
        lambda f: 1 < f["total_vs_shop"] <= 3,
        lambda f: "Total is among the shop's largest 5 % of orders",
    ),
    Rule(
        "very_large_order",
        20,
        lambda f: f["total_vs_shop"] > 3,
        lambda f: f"Total is {f['total_vs_shop']:.1f}× the shop's 95th percentile order",
    ),
    Rule(
        "bulk_quantity",
        15,
        lambda f: f["max_quantity"] >= 5,
        lambda f: f"{_n(f['max_quantity'])} units of one product",
    ),
    Rule(
        "buyout",
        25,
        lambda f: f["max_quantity"] >= 15,
        lambda f: "Buys out a product: a reseller's quantity",
    ),
    Rule(
        "resale_goods",
        15,
        lambda f: f["high_resale_share"] >= 0.8 and f["total_vs_shop"] > 0.5,
        lambda f: "Mostly easily resold goods, at a high total",
    ),
    Rule(
        "new_shipping_address",
        15,
        lambda f: f["new_shipping_address"] == 1,
        lambda f: "Ships to an address this customer has never used",
    ),
    Rule(
        "pickup_high_value",
        10,
        lambda f: f["pickup_id_check"] == 1,
        lambda f: "Pickup order above the ID-check amount",
    ),
    # The e-mail
    Rule("disposable_email", 20, lambda f: f["disposable_email"] == 1, lambda f: "Disposable e-mail domain"),
    Rule("machine_email", 8, lambda f: f["machine_email"] == 1, lambda f: "E-mail address looks machine-made"),
    # Velocity
    Rule(
        "repeat_pickup",
        25,
        lambda f: f["pickup_id_check"] == 1 and (f["orders_device_1h"] >= 0.5 or f["orders_address_1h"] >= 1.5),
        lambda f: "Another high-value pickup order from this device or network within the hour",
    ),
    Rule(
        "device_velocity",
        25,
        lambda f: f["orders_device_1h"] >= 1.5,
        lambda f: f"{_n(f['orders_device_1h'])} orders from this device in the last hour",
    ),
    Rule(
        "address_velocity",
        15,
        lambda f: f["orders_address_1h"] >= 4.5,
        lambda f: f"{_n(f['orders_address_1h'])} orders from this network address in the last hour",
    ),
    Rule(
        "email_velocity",
        10,
        lambda f: f["orders_email_24h"] >= 3,
        lambda f: f"{_n(f['orders_email_24h'])} orders with this e-mail address today",
    ),
    Rule(
        "attempt_velocity",
        15,
        lambda f: f["attempts_session_1h"] >= 3.5,
        lambda f: f"{_n(f['attempts_session_1h'])} payment attempts in this session within an hour",
    ),
    Rule(
        "many_cards",
        45,
        lambda f: max(f["cards_session_24h"], f["cards_account_24h"]) >= 2.5,
        lambda f: f"{_n(max(f['cards_session_24h'], f['cards_account_24h']))} different cards tried today",
    ),
    Rule(
        "card_testing",
        40,
        lambda f: max(f["cards_session_24h"], f["cards_account_24h"]) >= 4.5,
        lambda f: "Card testing: five or more cards tried from one session or account",
    ),
    Rule(
        "declines",
        20,
        lambda f: f["declines_24h"] >= 2.5,
        lambda f: f"{_n(f['declines_24h'])} declined payments today",
    ),
    # The payment
    Rule(
        "country_mismatch",
        25,
        lambda f: f["country_mismatch"] == 1,
        lambda f: "Card issued in another country than the shipping address",
    ),
    Rule("cvc_failed", 20, lambda f: f["cvc_failed"] == 1, lambda f: "The card's security code check failed"),
    Rule(
        "address_check_failed",
        10,
        lambda f: f["address_check_failed"] == 1,
        lambda f: "The card's billing address check failed",
    ),
    Rule(
        "gateway_risk",
        20,
        lambda f: f["gateway_risk"] >= 1,
        lambda f: "The payment provider rates this payment as risky",
    ),
]


def evaluate(features: F) -> tuple[int, tuple[Reason, ...]]:
    """Score 0-100 and the reasons that fired, strongest first."""
    from .features import FEATURES

    features = {**dict.fromkeys(FEATURES, 0.0), **features}
    fired = [Reason(rule.code, rule.words(features), rule.points) for rule in RULES if rule.test(features)]
    total = sum(reason.points for reason in fired)
    fired.sort(key=lambda reason: -reason.points)
    return max(0, min(100, total)), tuple(fired)
