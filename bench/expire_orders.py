"""How long the expiry job takes for 10,000 stale unpaid orders (README "Order lifecycle").

    .venv/bin/python bench/expire_orders.py [COUNT]      # default 10000

It recreates the PostgreSQL database `shop_bench_expiry` on 127.0.0.1:5432 (never `shop` or a
test database), migrates it, places COUNT unpaid orders of one product from one store (set-based,
through the ORM), moves their payment deadline into the past, and times `lifecycle.expire_unpaid`
until none is left (one transaction per order, as beat runs it: lock, void, restock, audit). Celery
runs in-process (no broker), the cache is local memory, so nothing else is touched.
"""

import os
import sys
import time
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "shop_bench_expiry"


def main(count: int) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="",
        DJANGO_SETTINGS_MODULE="shop.settings",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from shop.catalog.models import Category, Product, Stock, Store
    from shop.orders import lifecycle
    from shop.orders.models import Order, OrderLine

    call_command("migrate", verbosity=0)
    store = Store.objects.create(slug="bench", name="Bench", street="-", postal_code="-", city="-", ships_orders=True)
    category = Category.objects.create(slug="bench", name="Bench")
    product = Product.objects.create(slug="bench", name="Bench kettle", category=category, price_minor=1000)
    Stock.objects.create(store=store, product=product, quantity=0)  # every unit is held by an unpaid order
    past = timezone.now() - timedelta(hours=1)
    orders = Order.objects.bulk_create(
        Order(
            email=f"bench{i}@example.com",
            fulfillment="delivery",
            store=store,
            subtotal_minor=1000,
            total_minor=1000,
            currency="EUR",
            payment_due_at=past,
        )
        for i in range(count)
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=o, product=product, product_name=product.name, unit_price_minor=1000, quantity=1)
        for o in orders
    )

    started = time.perf_counter()
    expired = 0
    while batch := lifecycle.expire_unpaid(limit=lifecycle.EXPIRY_BATCH):
        expired += batch
    elapsed = time.perf_counter() - started

    assert expired == count and Stock.objects.get().quantity == count
    load = os.getloadavg()[0]
    print(f"expired {expired} stale unpaid orders in {elapsed:.1f} s ({elapsed / count * 1000:.2f} ms per order)")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
