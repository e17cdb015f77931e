"""Form fields shared by the apps' admin pages."""

import re
from decimal import Decimal, InvalidOperation

from django import forms

from .templatetags.money import _EXPONENTS

# "10,50", "10.50", "1.234,50", "1,234.50", "€ 10,50": digits, at most one decimal part.
_AMOUNT = re.compile(r"\d{1,3}([.,' ]\d{3})*([.,]\d+)?|\d+([.,]\d+)?")


def parse_amount(text: str) -> Decimal | None:
    """An amount as people in the shop's locale type it: comma or point as the decimal separator;
    a group separator only in groups of three. None if it is not a positive amount of money."""
    cleaned = re.sub(r"[€$£\s]|EUR|CHF", "", text or "", flags=re.IGNORECASE)
    if not _AMOUNT.fullmatch(cleaned):
        return None
    last = max(cleaned.rfind(","), cleaned.rfind("."))
    # A separator followed by exactly three digits with another separator before it is grouping.
    if last != -1 and not (len(cleaned) - last - 1 == 3 and re.search(r"[.,]", cleaned[:last])):
        whole, fraction = cleaned[:last], cleaned[last + 1 :]
    else:
        whole, fraction = cleaned, ""
    whole = re.sub(r"[.,' ]", "", whole)
    try:
        return Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation:
        return None


class AmountField(forms.CharField):
    """An amount in currency units, typed `10,50` or `10.50`; cleans to integer minor units."""

    default_error_messages = {
        "invalid": "Enter an amount like 10,50 or 10.50.",
        "min_value": "Enter an amount above zero.",
        "precision": "Enter the amount with at most %(places)s decimal places.",
    }

    def __init__(self, *, currency: str = "EUR", **kwargs):
        self.currency = currency
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("maxlength", "20")
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("autocomplete", "off")

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        amount = parse_amount(text) if len(text) <= 20 else None
        if amount is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        places = _EXPONENTS.get(self.currency, 2)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise forms.ValidationError(self.error_messages["precision"], code="precision", params={"places": places})
        minor = int(amount.scaleb(places))
        if minor <= 0:
            raise forms.ValidationError(self.error_messages["min_value"], code="min_value")
        return minor
