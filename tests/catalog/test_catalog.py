import pytest
from django.urls import reverse

from shop.catalog import selectors
from tests.factories import CategoryFactory, ProductFactory, StockFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_list_shows_active_products_only_and_paginates(client):
    ProductFactory.create_batch(13)
    ProductFactory(name="Hidden thing", is_active=False)
    first = client.get(reverse("catalog:product_list"))
    assert first.status_code == 200
    assert "13 products" in first.text and "Hidden thing" not in first.text
    assert "Page 1" in first.text and 'rel="next" href="?page=2"' in first.text
    assert len(first.context["page"].object_list) == 12
    second = client.get(reverse("catalog:product_list"), {"page": "2"})
    assert len(second.context["page"].object_list) == 1
    assert 'rel="prev" href="?page=1"' in second.text and 'rel="next"' not in second.text


@pytest.mark.parametrize("page", ["999", "-1", "abc", "1e9"])
def test_nonsense_page_numbers_still_show_a_page(client, page):
    ProductFactory.create_batch(3)
    response = client.get(reverse("catalog:product_list"), {"page": page})
    assert response.status_code == 200


def test_category_filter(client):
    kitchen, garden = CategoryFactory(slug="kitchen"), CategoryFactory(slug="garden")
    ProductFactory(name="Teapot", category=kitchen)
    ProductFactory(name="Rake", category=garden)
    response = client.get(reverse("catalog:product_list"), {"category": "kitchen"})
    assert "Teapot" in response.text and "Rake" not in response.text


def test_unknown_category_is_a_404(client):
    assert client.get(reverse("catalog:product_list"), {"category": "nope"}).status_code == 404


def test_search_finds_by_name_and_description(client):
    ProductFactory(name="Enamel coffee pot", description="For the stove.")
    ProductFactory(name="Wool throw", description="Soft merino for cold evenings.")
    ProductFactory(name="Rake", description="Garden tool.")
    assert [p.name for p in selectors.product_list(query="coffee")] == ["Enamel coffee pot"]
    assert [p.name for p in selectors.product_list(query="merino")] == ["Wool throw"]
    response = client.get(reverse("catalog:product_list"), {"q": "coffee"})
    assert "Enamel coffee pot" in response.text and "Rake" not in response.text


@pytest.mark.postgres
def test_postgres_search_is_full_text_stemmed_and_ranked():
    ProductFactory(name="Camping lantern", description="Rechargeable.")
    ProductFactory(name="Picnic blanket", description="Good for camping trips and lanterns at night.")
    ProductFactory(name="Rake", description="Garden tool.")
    # "lanterns" matches "lantern" by stemming; the name match ranks above the description match.
    assert [p.name for p in selectors.product_list(query="lanterns")] == ["Camping lantern", "Picnic blanket"]
    # websearch syntax: a minus excludes.
    assert [p.name for p in selectors.product_list(query="camping -blanket")] == ["Camping lantern"]


def test_hostile_search_input_is_harmless(client):
    ProductFactory(name="Mug")
    for query in ["'; DROP TABLE catalog_product; --", "<script>alert(1)</script>", "%", "a" * 5000, '"unclosed']:
        response = client.get(reverse("catalog:product_list"), {"q": query})
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in response.text
    assert len(client.get(reverse("catalog:product_list")).context["page"].object_list) == 1


def test_product_page_shows_availability_in_every_store(client):
    product = ProductFactory(name="Lamp")
    StockFactory(product=product, store=StoreFactory(name="Mitte"), quantity=8)
    StockFactory(product=product, store=StoreFactory(name="Altona"), quantity=2)
    StoreFactory(name="Harbour")
    response = client.get(product.get_absolute_url())
    rows = {a.store.name: a.label for a in response.context["availability"]}
    assert rows == {"Mitte": "In stock", "Altona": "Only 2 left", "Harbour": "Out of stock"}
    assert "Only 2 left" in response.text


def test_inactive_product_page_is_a_404(client):
    assert client.get(ProductFactory(is_active=False).get_absolute_url()).status_code == 404


def test_product_list_queries_do_not_grow_with_the_number_of_products(client, django_assert_max_num_queries):
    ProductFactory.create_batch(2)
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("catalog:product_list"))
    baseline = len(few)
    for _ in range(10):
        ProductFactory(category=CategoryFactory())
    with django_assert_max_num_queries(baseline):
        assert client.get(reverse("catalog:product_list")).status_code == 200
    with django_assert_max_num_queries(baseline):
        assert client.get(reverse("catalog:home")).status_code == 200


def test_store_picker_selectors():
    a, b = StoreFactory(name="A", ships_orders=False), StoreFactory(name="B", ships_orders=True)
    mug, pot = ProductFactory(), ProductFactory()
    StockFactory(store=a, product=mug, quantity=5)
    StockFactory(store=a, product=pot, quantity=1)
    StockFactory(store=b, product=mug, quantity=1)
    StockFactory(store=b, product=pot, quantity=9)
    assert selectors.stores_for_pickup(lines={mug.pk: 1, pot.pk: 1}) == [a, b] or set(
        selectors.stores_for_pickup(lines={mug.pk: 1, pot.pk: 1})
    ) == {a, b}
    assert selectors.stores_for_pickup(lines={mug.pk: 2, pot.pk: 1}) == [a]
    assert selectors.store_for_delivery(lines={mug.pk: 2}) is None
    assert selectors.store_for_delivery(lines={pot.pk: 9}) == b
    assert selectors.max_orderable(product_ids=[mug.pk, pot.pk]) == {mug.pk: 5, pot.pk: 9}
