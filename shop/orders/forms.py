from django import forms
from django.conf import settings

from shop.catalog.models import Store

from .models import COUNTRIES, Order
from .services import ShippingAddress


def _quantity_field(*, min_value: int) -> forms.IntegerField:
    limit = settings.SHOP_MAX_LINE_QUANTITY
    return forms.IntegerField(
        min_value=min_value,
        max_value=limit,
        error_messages={
            "required": "Enter a quantity.",
            "invalid": "Enter the quantity as a whole number.",
            "min_value": f"Choose a quantity of at least {min_value}.",
            "max_value": f"You can order at most {limit} of one product.",
        },
    )


class AddToCartForm(forms.Form):
    quantity = _quantity_field(min_value=1)


class QuantityForm(forms.Form):
    """Changing a cart line: 0 removes it."""

    quantity = _quantity_field(min_value=0)


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        help_text="We send your receipt here once you have paid.",
        error_messages={
            "required": "Enter your e-mail address so we can send the confirmation.",
            "invalid": "Enter an e-mail address like name@example.com.",
        },
    )
    fulfillment = forms.ChoiceField(
        label="How would you like to receive your order?",
        choices=Order.Fulfillment.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose delivery or pickup."},
    )
    pickup_store = forms.ModelChoiceField(
        label="Pickup store",
        queryset=Store.objects.none(),
        required=False,
        empty_label="Choose a store",
        error_messages={"invalid_choice": "That store cannot hold your order for pickup; choose another."},
    )
    alternate_collector = forms.CharField(
        label="Someone else collects (optional)",
        max_length=100,
        required=False,
        help_text="Their name only. They show the pickup code and an ID at the counter.",
    )
    shipping_name = forms.CharField(label="Full name", max_length=200, required=False)
    shipping_street = forms.CharField(label="Street and number", max_length=200, required=False)
    shipping_postal_code = forms.CharField(label="Postal code", max_length=20, required=False)
    shipping_city = forms.CharField(label="City", max_length=100, required=False)
    shipping_country = forms.ChoiceField(label="Country", choices=COUNTRIES, initial="DE", required=False)

    def __init__(self, *args, pickup_stores, can_deliver: bool, needs_challenge: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_deliver = can_deliver
        if needs_challenge:
            # Past one open unpaid order: each further one costs a bot the proof of work (hoarding.py).
            from shop.accounts.challenge import ChallengeField

            self.fields["challenge"] = ChallengeField()
        self.fields["pickup_store"].queryset = Store.objects.filter(pk__in=[s.pk for s in pickup_stores])
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["alternate_collector"].widget.attrs["autocomplete"] = "off"
        for name, autocomplete in [
            ("shipping_name", "name"),
            ("shipping_street", "street-address"),
            ("shipping_postal_code", "postal-code"),
            ("shipping_city", "address-level2"),
            ("shipping_country", "country"),
        ]:
            self.fields[name].widget.attrs["autocomplete"] = "shipping " + autocomplete

    def clean(self):
        data = super().clean()
        if data.get("fulfillment") != Order.Fulfillment.PICKUP:
            data["alternate_collector"] = ""
        else:
            data["alternate_collector"] = " ".join((data.get("alternate_collector") or "").split())
        if data.get("fulfillment") == Order.Fulfillment.PICKUP:
            if not data.get("pickup_store") and "pickup_store" not in self.errors:
                self.add_error("pickup_store", "Choose the store where you will collect your order.")
        elif data.get("fulfillment") == Order.Fulfillment.DELIVERY:
            if not self.can_deliver:
                self.add_error("fulfillment", "We cannot ship this cart in one parcel; choose pickup in a store.")
            labels = {
                "shipping_name": "your full name",
                "shipping_street": "street and number",
                "shipping_postal_code": "postal code",
                "shipping_city": "city",
                "shipping_country": "country",
            }
            for name, label in labels.items():
                if not (data.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, f"Enter {label} for delivery.")
        return data

    def shipping_address(self) -> ShippingAddress | None:
        if self.cleaned_data["fulfillment"] != Order.Fulfillment.DELIVERY:
            return None
        d = self.cleaned_data
        return ShippingAddress(
            name=d["shipping_name"].strip(),
            street=d["shipping_street"].strip(),
            postal_code=d["shipping_postal_code"].strip(),
            city=d["shipping_city"].strip(),
            country=d["shipping_country"],
        )
