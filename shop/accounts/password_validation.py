"""Passwords built from words anyone can guess in this context (ASVS 6.2.11).

"Storefront2026!" passes length and the common-password list, but an attacker trying this
shop starts with its name, the person's own e-mail address and a few words of the trade.
Django's UserAttributeSimilarityValidator only compares whole attributes by similarity, so a
context word with digits and a symbol around it gets through. Here the password is lowered and
the usual letter-for-digit swaps undone ("St0r3fr0nt"), then searched for each context word.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError

# Words of the trade, beyond the shop's own name and the person's address.
CONTEXT_WORDS = ("password", "passwort", "qwerty", "welcome", "letmein")
MIN_WORD = 4
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_PARTS = re.compile(r"[^a-z0-9]+")


def _normalised(text: str) -> str:
    return text.lower().translate(_LEET)


class ContextWordValidator:
    """Refuses the shop's name, the person's e-mail parts and CONTEXT_WORDS inside a password."""

    def _words(self, user) -> list[tuple[str, str]]:
        words = [(word, "a word anyone would try first on this shop") for word in CONTEXT_WORDS]
        for part in _PARTS.split(settings.SHOP_NAME.lower()):
            words.append((part, "the name of this shop"))
        email = (getattr(user, "email", "") or "").lower()
        local, _, domain = email.partition("@")
        for part in _PARTS.split(local):
            words.append((part, "part of your e-mail address"))
        for part in _PARTS.split(domain)[:-1]:  # not the top-level domain
            words.append((part, "part of your e-mail address"))
        return [(word, why) for word, why in words if len(word) >= MIN_WORD]

    def validate(self, password, user=None):
        plain, swapped = password.lower(), _normalised(password)
        for word, why in self._words(user):
            if word in plain or _normalised(word) in swapped:
                raise ValidationError(
                    f"Your password contains “{word}”, which is {why}: guessers try such words first. "
                    "Choose a password without it, e.g. a few unrelated words.",
                    code="password_context_word",
                )

    def get_help_text(self):
        return "Your password can’t contain the shop’s name, parts of your e-mail address or other obvious words."
