"""Personal data kept by the risk engine (see shop/privacy/registry.py).

Legal basis: the shop's legitimate interest in preventing fraud (Art. 6(1)(f), recital 47). The
identities are keyed hashes (shop/risk/hashing.py), pseudonymous, never clear text. Kept
RISK_RETENTION_DAYS (default 365) and then deleted by the nightly purge (shop/risk/tasks.py);
block-list entries until they expire (at most 3 years).
"""

from shop.privacy.registry import declare

_BASIS = "legitimate interest in fraud prevention (Art. 6(1)(f), recital 47)"

declare(
    "risk.RiskAssessment",
    fields=[
        "user",
        "order_number",
        "score",
        "action",
        "reasons",
        "features",
        "identities",
        "shipping_hash",
        "created_at",
    ],
    purpose="Scoring orders and payments for fraud, with the reasons; kept RISK_RETENTION_DAYS (365 days).",
    legal_basis=_BASIS,
    subject="user",
    erasure="anonymise",
    # The score and reasons stay (the fraud history of the order, no person); who it was goes.
    anonymise={"user": None, "identities": {}, "shipping_hash": ""},
)
declare(
    "risk.Review",
    fields=["user", "order_number", "status", "created_at", "decided_at", "note"],
    purpose="Orders held for a fraud analyst and the decision; kept RISK_RETENTION_DAYS (365 days).",
    legal_basis=_BASIS,
    subject="user",
    erasure="anonymise",
    anonymise={"user": None},
)
declare(
    "risk.ListEntry",
    fields=["user", "kind", "verdict", "hint", "reason", "expires_at", "created_at"],
    purpose="Block and allow lists against repeated fraud; each entry expires (at most 3 years).",
    legal_basis=_BASIS,
    subject="user",
    erasure="keep",
    keep_reason="A block entry made after a rejected fraudulent order must outlive the fraudster's erasure "
    "request (Art. 17(3)(e), Art. 21(1) compelling legitimate grounds); it holds a keyed hash and a masked hint "
    "only, and expires by itself.",
)
