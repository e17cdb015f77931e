"""The payment page's form: a gateway token and an idempotency key. Never card data."""

import re

from django import forms

from shop.accounts.challenge import ChallengeField

_KEY = re.compile(r"[0-9a-f]{32}")


class PayForm(forms.Form):
    token = forms.CharField(
        max_length=100,
        widget=forms.HiddenInput,
        error_messages={"required": "Enter your card details, then press Pay."},
    )
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    save_card = forms.BooleanField(
        required=False,
        label="Save this card for next time",
        help_text="We keep only the payment provider's token, the card brand, last 4 digits and expiry.",
    )

    def __init__(self, *args, can_save_card: bool, needs_challenge: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_save_card:
            del self.fields["save_card"]
        if needs_challenge:
            # After a declined payment the next attempt proves it is no card-testing bot.
            self.fields["challenge"] = ChallengeField()

    def clean_idempotency_key(self):
        key = self.cleaned_data["idempotency_key"]
        if not _KEY.fullmatch(key):
            raise forms.ValidationError("This payment form is damaged. Reload the page and try again.")
        return key
