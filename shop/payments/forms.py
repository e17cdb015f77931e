"""The payment page's form: a gateway token and an idempotency key. Never card data."""

import re

from django import forms

from shop.accounts.challenge import ChallengeField

from .models import PaymentMethod

_KEY = re.compile(r"[0-9a-f]{32}")


class SavedCardChoice(forms.ModelChoiceField):
    def label_from_instance(self, method):
        return f"{method.brand.title()} •••• {method.last4}, expires {method.exp_month:02d}/{method.exp_year % 100:02d}"


class PayForm(forms.Form):
    saved_card = SavedCardChoice(
        queryset=PaymentMethod.objects.none(),
        required=False,
        widget=forms.RadioSelect,
        # Without blank=True Django drops the empty choice of a RadioSelect: "A new card" would vanish.
        blank=True,
        empty_label="A new card",
        label="Pay with",
        error_messages={"invalid_choice": "That card is not saved on your account. Choose another or a new card."},
    )
    token = forms.CharField(max_length=100, widget=forms.HiddenInput, required=False)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    save_card = forms.BooleanField(
        required=False,
        label="Save this card for next time",
        help_text="We keep only the payment provider's token, the card brand, last 4 digits and expiry.",
    )

    def __init__(self, *args, can_save_card: bool, needs_challenge: bool, saved_cards=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_save_card:
            del self.fields["save_card"]
        if saved_cards is not None and saved_cards.exists():
            # Only this shopper's cards: an id of someone else's card is an invalid choice.
            self.fields["saved_card"].queryset = saved_cards
        else:
            del self.fields["saved_card"]
        if needs_challenge:
            # After a declined payment the next attempt proves it is no card-testing bot.
            self.fields["challenge"] = ChallengeField()

    def clean(self):
        data = super().clean()
        card = data.get("saved_card")
        if card is not None:
            data["token"] = card.token  # the gateway's token never went to the browser
        elif not data.get("token") and "saved_card" not in self.errors:
            raise forms.ValidationError("Enter your card details, then press Pay.")
        return data

    def clean_idempotency_key(self):
        key = self.cleaned_data["idempotency_key"]
        if not _KEY.fullmatch(key):
            raise forms.ValidationError("This payment form is damaged. Reload the page and try again.")
        return key
