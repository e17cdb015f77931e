"""Personal data kept by the privacy app itself (see shop/privacy/registry.py)."""

from shop.privacy.registry import declare

declare(
    "privacy.DataRequest",
    fields=["subject", "kind", "status", "received_at", "due_at", "requested_by", "identity_check", "notify_email"],
    purpose="Answering data-subject requests and proving that they were answered in time.",
    legal_basis="legal obligation (Art. 6(1)(c), Art. 12 and 5(2) GDPR)",
    subject="subject",
    erasure="keep",
    keep_reason="Proof that the request was answered; keyed by the account id. The confirmation "
    "address is cleared once the confirmation is sent.",
)
declare(
    "privacy.DataRequestEvent",
    fields=["request", "at", "status", "note", "actor"],
    purpose="The history of a data-subject request (no personal data in the notes).",
    legal_basis="legal obligation (Art. 6(1)(c), Art. 5(2) GDPR)",
    subject="request__subject",
    erasure="keep",
    keep_reason="Proof of how the request was handled; ids and reasons only.",
)
declare(
    "privacy.ConsentRecord",
    fields=["user", "visitor_id", "purpose", "policy_version", "granted", "at", "source"],
    purpose="Proof of consent to marketing e-mail and analytics, and of its withdrawal (Art. 7(1) GDPR).",
    legal_basis="legal obligation (Art. 6(1)(c), Art. 7(1) GDPR)",
    subject="user",
    erasure="keep",
    keep_reason="Proof of consent must outlive the account; the records hold ids and choices only, "
    "never a name or an address.",
)
