"""Money is stored as integer minor units plus an ISO currency code; this is where it becomes text."""

from django import template
from django.utils.formats import number_format

register = template.Library()

# Currencies whose minor unit is not a hundredth (ISO 4217).
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "TND": 3}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}


@register.simple_tag
def money(amount_minor, currency):
    """`{% money product.price_minor product.currency %}` -> "€12.50"."""
    exponent = _EXPONENTS.get(currency, 2)
    value = number_format(amount_minor / 10**exponent, decimal_pos=exponent, force_grouping=True)
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency}"
