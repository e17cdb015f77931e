"""Reads of the catalog that views and services share."""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, Expression, Max, OuterRef, Q, QuerySet

from .models import Category, Product, Stock, Store
from .services import FRAGMENT_TIMEOUT

# Below this many units a shopper is told the store is running low.
LOW_STOCK = 3


def categories() -> QuerySet[Category]:
    return Category.objects.all()


@dataclass(frozen=True)
class Navigation:
    """Categories and stores, the same for every visitor: what menus and filters are built from."""

    categories: list[Category]
    stores: list[Store]

    def category(self, slug: str) -> Category | None:
        return next((c for c in self.categories if c.slug == slug), None)

    def store(self, slug: str) -> Store | None:
        return next((s for s in self.stores if s.slug == slug), None)


def navigation(*, version: str) -> Navigation:
    """Read once per catalogue version and shared through the cache: no query on most requests."""
    key = f"catalog:navigation:{version}"
    found = cache.get(key)
    if found is None:
        found = Navigation(categories=list(Category.objects.all()), stores=list(Store.objects.all()))
        cache.set(key, found, timeout=FRAGMENT_TIMEOUT)
    return found


class _StoredSearchDocument(Expression):
    """The product's `search_document` column (PostgreSQL only, migration 0003; not on the model)."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(Product._meta.db_table)}.search_document", []


SORTS = {
    "name": ("name", "pk"),
    "price": ("price_minor", "pk"),
    "-price": ("-price_minor", "-pk"),
    "newest": ("-created_at", "-pk"),
}


def product_list(
    *,
    category: Category | None = None,
    query: str = "",
    sort: str = "",
    min_price_minor: int | None = None,
    max_price_minor: int | None = None,
    in_stock_at: Store | None = None,
) -> QuerySet[Product]:
    """Active products, filtered, matching a search, in the order asked for.

    On PostgreSQL the search is full-text (stemmed, ranked, name weighted above description) on
    the stored, GIN-indexed `search_document`, so only matching rows are read and ranked; on
    SQLite it falls back to a case-insensitive substring match on name and description. Without
    a `sort`, a search is ordered by relevance and browsing by name.
    """
    products = Product.objects.active().select_related("category")
    if category is not None:
        products = products.filter(category=category)
    if min_price_minor is not None:
        products = products.filter(price_minor__gte=min_price_minor)
    if max_price_minor is not None:
        products = products.filter(price_minor__lte=max_price_minor)
    if in_stock_at is not None:
        products = products.filter(
            Exists(Stock.objects.filter(product=OuterRef("pk"), store=in_stock_at, quantity__gt=0))
        )
    order = SORTS.get(sort, SORTS["name"])
    query = query.strip()
    if not query:
        return products.order_by(*order)
    if connection.vendor == "postgresql":
        search = SearchQuery(query, search_type="websearch", config="english")
        document = _StoredSearchDocument()
        # Match with @@ (a rank above 0 is no match test: ts_rank scores "-word" queries oddly).
        # The substring arm catches partial words ("lant" for lantern), from the trigram index.
        products = products.annotate(document=document).filter(Q(document=search) | Q(name__icontains=query))
        if sort in SORTS:
            return products.order_by(*order)
        return products.annotate(rank=SearchRank(document, search)).order_by("-rank", "name", "pk")
    products = products.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return products.order_by(*order)


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
