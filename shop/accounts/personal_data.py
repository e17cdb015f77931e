"""Personal data kept by accounts, MFA and django-axes (see shop/privacy/registry.py)."""

from django.contrib.auth.hashers import make_password

from shop.privacy.registry import declare

declare(
    "accounts.User",
    fields=[
        "email",
        "first_name",
        "last_name",
        "date_joined",
        "last_login",
        "email_verified_at",
        "marketing_opt_in_at",
    ],
    purpose="The customer account: sign-in, orders, e-mail about them.",
    legal_basis="contract (Art. 6(1)(b))",
    subject="",
    erasure="anonymise",
    # The row stays (orders and audit events point at its id); nothing in it names the person.
    anonymise={
        "email": lambda user: f"erased-{user.pk}@invalid",
        "first_name": "",
        "last_name": "",
        "is_active": False,
        "password": lambda user: make_password(None),
        "email_verified_at": None,
        "marketing_opt_in_at": None,
    },
)

declare(
    "accounts.UserSession",
    fields=["user", "created_at", "last_seen_at", "user_agent", "address_hash"],
    purpose="Lets a person see and end their signed-in sessions.",
    legal_basis="legitimate interest: account security (Art. 6(1)(f))",
    subject="user",
    erasure="delete",
    eraser="shop.accounts.personal_data.end_sessions",
)

# MFA devices: their secrets are never exported.
for _model in ("accounts.BackupCodeDevice", "otp_totp.TOTPDevice"):
    declare(
        _model,
        fields=["user", "name"],
        purpose="Second factor at sign-in.",
        legal_basis="legitimate interest: account security (Art. 6(1)(f))",
        subject="user",
        erasure="delete",
        export=False,
    )

# Passkeys: the public half of each key (with its signature counter and the attestation the
# authenticator sent) verifies sign-ins, with the name the person gave it and when it was
# added and last used. Export gives the name and the two dates (the key material is of no use
# to the person); erasure deletes the passkeys and the account's WebAuthn user handle.
declare(
    "django_otp_webauthn.WebAuthnCredential",
    fields=["user", "name", "created_at", "last_used_at"],
    purpose="Passkey sign-in and second factor: the public key, its name, when added and last used.",
    legal_basis="legitimate interest: account security (Art. 6(1)(f))",
    subject="user",
    erasure="delete",
    eraser="shop.accounts.passkeys.erase_passkeys",
)
declare(
    "django_otp_webauthn.WebAuthnUserHandle",
    fields=["user"],
    purpose="The random id under which the person's authenticators keep their passkeys for this shop.",
    legal_basis="legitimate interest: account security (Art. 6(1)(f))",
    subject="user",
    erasure="delete",
    export=False,
)

for _model in ("axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog"):
    declare(
        _model,
        fields=["username", "ip_address", "user_agent", "http_accept", "path_info", "attempt_time"],
        purpose="Sign-in lockout after repeated failures (brute-force defence).",
        legal_basis="legitimate interest: account security (Art. 6(1)(f))",
        subject="",
        match_email="username",
        erasure="delete",
    )


def end_sessions(*, user, queryset) -> int:
    """Sessions go with their django.contrib.sessions rows (and cache entries), not only the index."""
    from . import services

    return services.end_all_sessions(user=user)
