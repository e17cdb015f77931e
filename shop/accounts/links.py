"""Signed links in the e-mails about an address: confirm it after sign-up, confirm a new one.

Each token is a TimestampSigner signature (the site's secret key, a salt per purpose, so that one
kind of link can never stand in for the other) and stops working after
SHOP_EMAIL_VERIFICATION_MAX_AGE. Each also carries a keyed digest of the account's address at the
time the link was made: once the address changes, every earlier link of that account is dead.
That is what makes a change link work once, and what stops a sign-up link from confirming an
address the account no longer has.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

_VERIFY_SALT = "shop.accounts.verify-email"
_CHANGE_SALT = "shop.accounts.change-email"


@dataclass(frozen=True)
class Claim:
    """What a valid token says: the account, the address it was made for, and for a change the new one."""

    user_id: int
    address_digest: str
    new_email: str = ""

    def still_matches(self, current_email: str) -> bool:
        return constant_time_compare(self.address_digest, address_digest(current_email))


def address_digest(email: str) -> str:
    # Keyed, so the link does not carry the address in a form anyone could check guesses against.
    return salted_hmac("shop.accounts.link-address", email.lower(), algorithm="sha256").hexdigest()[:24]


def verification_path(user) -> str:
    token = signing.TimestampSigner(salt=_VERIFY_SALT).sign_object({"u": user.pk, "a": address_digest(user.email)})
    return reverse("accounts:verify_email", args=[token])


def email_change_path(user, new_email: str) -> str:
    claim = {"u": user.pk, "a": address_digest(user.email), "e": new_email}
    token = signing.TimestampSigner(salt=_CHANGE_SALT).sign_object(claim)
    return reverse("accounts:email_change_confirm", args=[token])


def verification_claim(token: str) -> Claim:
    """Raises signing.SignatureExpired for an old link and signing.BadSignature for any other."""
    return _claim(token, _VERIFY_SALT)


def email_change_claim(token: str) -> Claim:
    """Raises signing.SignatureExpired for an old link and signing.BadSignature for any other."""
    claim = _claim(token, _CHANGE_SALT)
    if not claim.new_email:
        raise signing.BadSignature("no new address in the link")
    return claim


def _claim(token: str, salt: str) -> Claim:
    data = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=settings.SHOP_EMAIL_VERIFICATION_MAX_AGE)
    try:
        return Claim(user_id=int(data["u"]), address_digest=str(data["a"]), new_email=str(data.get("e", "")))
    except (KeyError, TypeError, ValueError) as error:  # signed by us, so only a bug gets here
        raise signing.BadSignature("unexpected link contents") from error
