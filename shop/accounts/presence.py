"""The interface other apps use to ask "is the account's owner holding the phone right now?".

Orders asks it before showing a valuable pickup's code and QR: a shopper who has a passkey
unlocks it once (fingerprint, face or PIN), and the confirmation holds for
SHOP_PASSKEY_PRESENCE_SECONDS in this session. Someone with a stolen, unlocked phone and an
open session cannot pass it.
"""

from django.urls import reverse
from django.utils.http import urlencode

from . import passkeys


def must_confirm(request) -> bool:
    """True when the signed-in person has a passkey and has not confirmed with it just now."""
    user = request.user
    if not user.is_authenticated or not passkeys.has_passkey(user=user):
        return False
    return not passkeys.presence_is_fresh(request)


def confirm_url(*, next_url: str) -> str:
    """The page that asks for the passkey and then comes back to `next_url`."""
    return f"{reverse('accounts:passkey_confirm')}?{urlencode({'next': next_url})}"
