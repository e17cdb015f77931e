"""Factories build valid objects; a test sets only what matters to it."""

import factory
from django.conf import settings
from django.utils import timezone

from shop.accounts.models import User
from shop.catalog.models import Category, Product, Stock, Store

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = "Alex"
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = "A fine product."
    price_minor = 1000
    currency = settings.SHOP_CURRENCY


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    street = "Main St. 1"
    postal_code = "10115"
    city = "Berlin"
    opening_hours = "Mon-Fri 09:00-18:00"
    pickup_enabled = True
    ships_orders = True


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock

    store = factory.SubFactory(StoreFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 10
