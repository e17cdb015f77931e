"""Personal data kept by security operations (see shop/privacy/registry.py)."""

from shop.privacy.registry import declare

declare(
    "operations.SubjectNotice",
    fields=["notification", "user", "user_ref", "sent_at"],
    purpose="Proof that each person affected by a personal-data breach was told (Art. 34 GDPR).",
    legal_basis="legal obligation (Art. 6(1)(c), Art. 34 and 5(2) GDPR)",
    subject="user",
    erasure="keep",
    keep_reason="Proof of the breach notification; an account id and a time, no address or name.",
)
