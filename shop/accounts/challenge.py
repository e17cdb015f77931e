"""The proof-of-work challenge (ALTCHA) on sign-up, password reset, and login after failures.

The server hands the browser a signed puzzle: find the number n in [0, max_number] for which
SHA-256(salt + n) equals a given hash. A person's browser solves it in a fraction of a second;
a bot posting thousands of forms pays that cost for every single one. Nothing leaves the shop:
no third-party script, no cookie, no tracking.

django-altcha checks the solution (HMAC signature, expiry encoded in the salt, single use). Its
own widget loads a bundle that starts a Web Worker from a `data:` URL and injects styles, both
refused by our Content-Security-Policy, so ChallengeWidget renders the puzzle as plain data for
the small local static/js/challenge.js instead.
"""

import base64
import binascii
import json

from django.core.cache import caches
from django.forms import ValidationError
from django_altcha import AltchaField, AltchaWidget, get_altcha_challenge, get_challenge_expire_seconds
from django_altcha.conf import get_setting

from .signals import challenge_failed, challenge_served

# Hashes a browser tries at most: well under a second with crypto.subtle, about 0.1 s in Python.
MAX_NUMBER = 50_000

_TRY_AGAIN = "Please wait for the automatic check to finish, then send the form again."


class ChallengeWidget(AltchaWidget):
    """A hidden input for the solution and a visible, announced status line (no ALTCHA bundle)."""

    template_name = "accounts/widgets/challenge.html"

    # The status line is visible and labelled, so the form treats this as a visible field.
    is_hidden = False

    def get_context(self, name, value, attrs):
        # Not AltchaWidget.get_context: it stores the challenge in self.options, a dict that
        # every copy of the form shares, so two pages rendered at once could get the same one.
        context = super(AltchaWidget, self).get_context(name, value, attrs)
        challenge = get_altcha_challenge(max_number=self.options.get("maxnumber"), expires=self.options.get("expire"))
        context["widget"]["challenge_json"] = json.dumps(challenge.__dict__)
        challenge_served.send(ChallengeWidget)
        # A solution works once: never hand a used one back on a re-rendered form.
        context["widget"]["value"] = None
        context["widget"]["described_by"] = context["widget"]["attrs"].get("aria-describedby", "")
        return context


class ChallengeField(AltchaField):
    """django-altcha's verification, with messages a person can act on.

    Replays are refused with an atomic cache.add(), so two requests racing with the same
    solution cannot both pass (the library checks and then marks, in two steps).
    """

    widget = ChallengeWidget
    default_error_messages = {
        "required": _TRY_AGAIN,
        "invalid": "The automatic check did not pass. " + _TRY_AGAIN,
        "error": "The automatic check did not pass. " + _TRY_AGAIN,
        "replay": "This check was already used. " + _TRY_AGAIN,
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Automatic check")
        kwargs.setdefault(
            "help_text", "Your browser solves a small puzzle that keeps bots out. No data leaves this site."
        )
        kwargs.setdefault("maxnumber", MAX_NUMBER)
        super().__init__(**kwargs)

    def validate(self, value):
        try:
            super().validate(value)
        except ValidationError:
            challenge_failed.send(ChallengeField)
            raise

    def replay_attack_protection(self, payload):
        challenge = _challenge_of(payload)
        if challenge is None:
            raise ValidationError(self.error_messages["error"], code="error")
        cache = caches[get_setting("ALTCHA_CACHE_ALIAS")]
        if not cache.add(f"accounts.challenge-used:{challenge}", True, timeout=get_challenge_expire_seconds()):
            raise ValidationError(self.error_messages["replay"], code="invalid")


def _challenge_of(payload: str) -> str | None:
    try:
        challenge = json.loads(base64.b64decode(payload, validate=True))["challenge"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    return challenge if isinstance(challenge, str) else None
