"""Build a large synthetic catalogue for benchmarks: N products in 10 categories, stock in every store.

Bulk inserts (a few thousand rows per statement), so 100,000 products take seconds, not the minutes
that one save() per row would. Products already there (the demo's) are kept and counted: the
catalogue ends with N products. Refuses to run in production.
"""

import random

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shop.catalog import services
from shop.catalog.models import Category, Product, Stock, Store

WORDS = [
    "oak",
    "linen",
    "enamel",
    "brass",
    "wool",
    "stoneware",
    "copper",
    "walnut",
    "cotton",
    "steel",
    "glass",
    "cedar",
    "jute",
    "slate",
    "bamboo",
    "ceramic",
    "leather",
    "felt",
    "birch",
    "marble",
]
THINGS = [
    "mug",
    "lantern",
    "bowl",
    "vase",
    "lamp",
    "throw",
    "cushion",
    "pot",
    "pan",
    "knife",
    "board",
    "towel",
    "candle",
    "basket",
    "jar",
    "tray",
    "shelf",
    "hook",
    "bottle",
    "blanket",
]
BATCH = 5000


class Command(BaseCommand):
    help = "Fill the catalogue up to --products N products with synthetic ones (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=1000)
        parser.add_argument("--categories", type=int, default=10)

    def handle(self, *args, products, categories, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_catalogue fills the shop with made-up products: never in production.")
        if products < 1 or categories < 1:
            raise CommandError("--products and --categories must be at least 1.")
        stores = list(Store.objects.all())
        if not stores:
            raise CommandError("Create the stores first (seed_demo).")
        with transaction.atomic():
            existing = Product.objects.count()
            groups = [
                Category.objects.update_or_create(
                    slug=f"range-{i}", defaults={"name": f"Range {i}", "position": 100 + i}
                )[0]
                for i in range(categories)
            ]
            rng = random.Random(13)  # the same catalogue on every run
            for start in range(existing, products, BATCH):
                rows = [_product(n, groups, rng) for n in range(start, min(products, start + BATCH))]
                created = Product.objects.bulk_create(rows)
                Stock.objects.bulk_create(
                    Stock(store=store, product=product, quantity=rng.randrange(0, 25))
                    for product in created
                    for store in stores
                )
            services.catalogue_changed()
        self.stdout.write(f"{products} products in {categories} categories, stock in {len(stores)} stores.")


def _product(n: int, groups: list[Category], rng: random.Random) -> Product:
    name = f"{rng.choice(WORDS).title()} {rng.choice(THINGS)} {n}"
    return Product(
        category=groups[n % len(groups)],
        name=name,
        slug=f"item-{n}",
        description=f"A {rng.choice(WORDS)} {rng.choice(THINGS)} made with care. Model {n}.",
        price_minor=rng.randrange(300, 30000),
    )
