from decimal import Decimal

from django import forms
from django.http import QueryDict

from .selectors import Navigation

SORT_CHOICES = [
    ("", "Best match, then name"),
    ("name", "Name"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("newest", "Newest first"),
]


class ProductFilterForm(forms.Form):
    """The shopper's filters of the product list, all optional, all read from the query string.

    The category and store choices come from the cached navigation, so checking them costs no query.
    """

    q = forms.CharField(required=False, max_length=100, strip=True, label="Search")
    category = forms.ChoiceField(required=False, label="Category")
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False, label="Sort by")
    min_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_value=Decimal(1_000_000), decimal_places=2, label="Price from"
    )
    max_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_value=Decimal(1_000_000), decimal_places=2, label="Price to"
    )
    store = forms.ChoiceField(required=False, label="In stock at")

    def __init__(self, data, *, navigation: Navigation):
        super().__init__(data)
        self.navigation = navigation
        self.fields["category"].choices = [("", "All categories")] + [(c.slug, c.name) for c in navigation.categories]
        self.fields["store"].choices = [("", "Any store")] + [(s.slug, s.name) for s in navigation.stores]

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The highest price must not be below the lowest.")
        return data

    def selection(self) -> dict:
        """The valid filters as selector arguments."""
        data = self.cleaned_data
        return {
            "category": self.navigation.category(data["category"]) if data.get("category") else None,
            "query": data.get("q") or "",
            "sort": data.get("sort") or "",
            "min_price_minor": _minor(data.get("min_price")),
            "max_price_minor": _minor(data.get("max_price")),
            "in_stock_at": self.navigation.store(data["store"]) if data.get("store") else None,
        }

    def querystring(self) -> str:
        """The filters that are set, as a query string for links that keep them (pagination, sort)."""
        kept = QueryDict(mutable=True)
        for name in ("q", "category", "sort", "min_price", "max_price", "store"):
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                kept[name] = str(value)
        return kept.urlencode()


def _minor(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)
