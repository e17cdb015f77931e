"""Sorting, filtering and paging the product list, and what each page costs in SQL."""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.catalog import selectors
from shop.catalog.models import Product, Stock
from tests.factories import CategoryFactory, ProductFactory, StockFactory, StoreFactory

pytestmark = pytest.mark.django_db
LIST = reverse("catalog:product_list")


def _names(response) -> list[str]:
    return re.findall(r'<span class="card-title">([^<]+)</span>', response.text)


def test_sort_by_price_both_ways_and_by_newest(client):
    ProductFactory(name="B middle", price_minor=2000)
    ProductFactory(name="A cheap", price_minor=500)
    ProductFactory(name="C dear", price_minor=9000)
    assert _names(client.get(LIST)) == ["A cheap", "B middle", "C dear"]
    assert _names(client.get(LIST, {"sort": "price"})) == ["A cheap", "B middle", "C dear"]
    assert _names(client.get(LIST, {"sort": "-price"})) == ["C dear", "B middle", "A cheap"]
    assert _names(client.get(LIST, {"sort": "newest"})) == ["C dear", "A cheap", "B middle"]


def test_every_sort_the_form_offers_is_one_the_selector_knows():
    from shop.catalog.forms import SORT_CHOICES

    assert {value for value, _label in SORT_CHOICES if value} == set(selectors.SORTS)


def test_filter_by_price_range_in_major_units(client):
    ProductFactory(name="Cheap", price_minor=499)
    ProductFactory(name="Fair", price_minor=1250)
    ProductFactory(name="Dear", price_minor=5001)
    assert _names(client.get(LIST, {"min_price": "4.99", "max_price": "50"})) == ["Cheap", "Fair"]
    assert _names(client.get(LIST, {"min_price": "12.51"})) == ["Dear"]


def test_filter_in_stock_at_a_store(client):
    mitte, altona = StoreFactory(slug="mitte"), StoreFactory(slug="altona")
    StockFactory(product=ProductFactory(name="Here"), store=mitte, quantity=3)
    StockFactory(product=ProductFactory(name="Sold out here"), store=mitte, quantity=0)
    StockFactory(product=ProductFactory(name="Elsewhere"), store=altona, quantity=5)
    response = client.get(LIST, {"store": "mitte"})
    assert _names(response) == ["Here"]
    assert "In stock at" in response.text


def test_pagination_keeps_every_filter(client):
    kitchen = CategoryFactory(slug="kitchen")
    for n in range(15):
        ProductFactory(name=f"Pot {n:02}", category=kitchen, price_minor=1000 + n)
    ProductFactory(name="Pot elsewhere")
    response = client.get(LIST, {"category": "kitchen", "sort": "-price", "min_price": "10"})
    assert _names(response)[0] == "Pot 14"
    next_link = re.search(r'rel="next" href="\?([^"]+)"', response.text).group(1).replace("&amp;", "&")
    assert next_link == "category=kitchen&sort=-price&min_price=10&page=2"
    second = client.get(LIST + "?" + next_link)
    assert _names(second) == ["Pot 02", "Pot 01", "Pot 00"]
    previous = re.search(r'rel="prev" href="\?([^"]+)"', second.text).group(1).replace("&amp;", "&")
    assert previous == "category=kitchen&sort=-price&min_price=10&page=1"


def test_search_pages_keep_the_query_and_show_no_count(client):
    for n in range(14):
        ProductFactory(name=f"Lantern {n:02}")
    response = client.get(LIST, {"q": "lantern"})
    assert "products</p>" not in response.text  # no COUNT over the matches
    assert 'rel="next" href="?q=lantern&amp;page=2"' in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_price": "cheap"}, "Enter a number."),
        ({"min_price": "-1"}, "greater than or equal to 0"),
        ({"min_price": "20", "max_price": "10"}, "The highest price must not be below the lowest."),
        ({"sort": "price; DROP TABLE"}, "Select a valid choice."),
        ({"store": "nowhere"}, "Select a valid choice."),
    ],
)
def test_bad_filters_get_a_400_that_says_what_is_wrong(client, params, message):
    response = client.get(LIST, params)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text


def test_bad_filters_are_never_cached_as_the_default_sidebar(client):
    client.get(LIST, {"min_price": "20", "max_price": "10"})
    assert 'aria-invalid="true"' not in client.get(LIST).text


@pytest.mark.postgres
def test_search_reads_the_stored_indexed_document_and_ranks_only_matches():
    _catalogue(
        3000, lantern_every=500
    )  # enough rows that reading them all would cost the planner more than the indexes
    sql, params = selectors.product_list(query="lantern").query.sql_with_params()
    assert "to_tsvector" not in sql  # the document is read, not rebuilt from the text
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
        # At 3,000 rows reading them all is still cheap: rule out the plans that do (a sequential
        # scan, or a full walk of some btree), to see that the indexes can answer the match alone.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Both arms of the match come from an index (BitmapOr); only the matching rows reach ts_rank.
    assert "catalog_product_search_document_gin" in plan, plan
    assert "catalog_product_name_upper_trgm" in plan, plan
    assert "Seq Scan on catalog_product" not in plan, plan


@pytest.mark.postgres
def test_generated_document_follows_a_rename():
    lamp = ProductFactory(name="Desk lamp", description="")
    assert [p.pk for p in selectors.product_list(query="lamp")] == [lamp.pk]
    Product.objects.filter(pk=lamp.pk).update(name="Floor light")
    assert list(selectors.product_list(query="lamp")) == []
    assert [p.pk for p in selectors.product_list(query="light")] == [lamp.pk]


# --- SQL per page: constant in the catalogue size, and no writes on reads ------------------------


def _catalogue(size: int, *, lantern_every: int = 7):
    """`size` products in 10 categories with stock in two stores, by bulk insert."""
    stores = [StoreFactory(slug="mitte"), StoreFactory(slug="altona")]
    categories = [CategoryFactory() for _ in range(10)]
    products = Product.objects.bulk_create(
        Product(
            category=categories[n % 10],
            name=f"Lantern {n}" if n % lantern_every == 0 else f"Bowl {n}",
            slug=f"p-{n}",
            description="A fine thing.",
            price_minor=100 + n,
        )
        for n in range(size)
    )
    Stock.objects.bulk_create(Stock(store=s, product=p, quantity=5) for p in products for s in stores)
    cache.clear()
    return products[0]


def _pages(client, product):
    client.post(reverse("orders:cart_add", args=[product.slug]), {"quantity": "1"})
    return {
        "home": reverse("catalog:home"),
        "list": LIST,
        "category, sorted, filtered": f"{LIST}?category={product.category.slug}&sort=price&min_price=1&store=mitte",
        "page 3": f"{LIST}?page=3",
        "search": f"{LIST}?q=lantern",
        "product": product.get_absolute_url(),
        "cart": reverse("orders:cart"),
    }


def _queries_per_page(client, product) -> dict[str, tuple[int, int]]:
    """(cold cache, warm cache) query counts of every page; fails on any write."""
    counts = {}
    for label, url in _pages(client, product).items():
        runs = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, label
            writes = [
                q["sql"]
                for q in queries
                if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE"))
            ]
            assert writes == [], (label, writes)
            runs.append(len(queries))
        counts[label] = tuple(runs)
    return counts


@pytest.mark.parametrize("size", [60, 3000])
def test_sql_per_page_is_small_and_the_same_at_two_catalogue_sizes(client, size, django_assert_max_num_queries):
    product = _catalogue(size)
    counts = _queries_per_page(client, product)
    # The same numbers at 60 and at 3,000 products (the cold cache reads more, once per version).
    assert counts == {
        "home": (3, 1),
        "list": (6, 1),  # the first page of a new version also reads categories and stores
        "category, sorted, filtered": (4, 1),
        "page 3": (4, 1),
        "search": (2, 2),
        "product": (4, 2),
        "cart": (4, 4),
    }, counts
    with django_assert_max_num_queries(2):
        client.get(f"{LIST}?q=lantern&sort=newest")


def test_seed_catalogue_fills_up_to_n_products_with_stock_in_every_store(settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    StoreFactory.create_batch(2)
    ProductFactory()
    call_command("seed_catalogue", "--products", "25", stdout=StringIO())
    assert Product.objects.count() == 25
    assert Stock.objects.count() == 24 * 2
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="never in production"):
        call_command("seed_catalogue", "--products", "30", stdout=StringIO())
