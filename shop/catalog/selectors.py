"""Reads of the catalog that views and services share."""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Max, Q, QuerySet

from .models import Category, Product, Stock, Store

# Below this many units a shopper is told the store is running low.
LOW_STOCK = 3


def categories() -> QuerySet[Category]:
    return Category.objects.all()


def product_list(*, category: Category | None = None, query: str = "") -> QuerySet[Product]:
    """Active products, optionally in one category and matching a search.

    On PostgreSQL the search is full-text (stemmed, ranked, name weighted above description);
    on SQLite it falls back to a case-insensitive substring match on name and description.
    """
    products = Product.objects.active().select_related("category")
    if category is not None:
        products = products.filter(category=category)
    query = query.strip()
    if not query:
        return products.order_by("name")
    if connection.vendor == "postgresql":
        vector = SearchVector("name", weight="A", config="english") + SearchVector(
            "description", weight="B", config="english"
        )
        search = SearchQuery(query, search_type="websearch", config="english")
        # Match with @@ (a rank above 0 is no match test: ts_rank scores "-word" queries oddly).
        return (
            products.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(Q(document=search) | Q(name__icontains=query))
            .order_by("-rank", "name")
        )
    return products.filter(Q(name__icontains=query) | Q(description__icontains=query)).order_by("name")


def active_product(*, slug: str) -> Product:
    return Product.objects.active().select_related("category").get(slug=slug)


@dataclass(frozen=True)
class Availability:
    store: Store
    quantity: int

    @property
    def label(self) -> str:
        if self.quantity <= 0:
            return "Out of stock"
        if self.quantity <= LOW_STOCK:
            return f"Only {self.quantity} left"
        return "In stock"

    @property
    def level(self) -> str:
        return "out" if self.quantity <= 0 else "low" if self.quantity <= LOW_STOCK else "in"


def availability(*, product: Product) -> list[Availability]:
    """The product's stock in every store, including stores that have none of it."""
    on_hand = dict(Stock.objects.filter(product=product).values_list("store_id", "quantity"))
    return [Availability(store=store, quantity=on_hand.get(store.pk, 0)) for store in Store.objects.all()]


def max_orderable(*, product_ids: list[int]) -> dict[int, int]:
    """Most units of each product one order can take: an order is served from a single store."""
    rows = Stock.objects.filter(product_id__in=product_ids).values("product_id").annotate(best=Max("quantity"))
    best = {row["product_id"]: row["best"] for row in rows}
    return {pid: best.get(pid, 0) for pid in product_ids}


def stores_for_pickup(*, lines: dict[int, int]) -> list[Store]:
    """Pickup stores that hold every product of the cart in the quantity asked for."""
    return [s for s in _stores_with_all(lines) if s.pickup_enabled]


def store_for_delivery(*, lines: dict[int, int]) -> Store | None:
    """The first shipping store that can send the whole order in one parcel."""
    return next((s for s in _stores_with_all(lines) if s.ships_orders), None)


def _stores_with_all(lines: dict[int, int]) -> list[Store]:
    if not lines:
        return []
    stock = Stock.objects.filter(product_id__in=lines).values_list("store_id", "product_id", "quantity")
    enough: dict[int, int] = {}
    for store_id, product_id, quantity in stock:
        if quantity >= lines[product_id]:
            enough[store_id] = enough.get(store_id, 0) + 1
    ids = [store_id for store_id, count in enough.items() if count == len(lines)]
    return list(Store.objects.filter(pk__in=ids))
