"""Retention at scale: how long each batch of the order policies holds its row locks.

    .venv/bin/python bench/retention.py [--orders 1000000] [--batch 10000]

Uses its own database `shop_bench_retention` on 127.0.0.1:5432 (user postgres, trust), dropped
and recreated on every run (never `shop` or a test database). It creates the orders with one
INSERT ... SELECT from generate_series (copying every column of one template order, so new
fields do not break it), all placed 20 years ago and closed, then applies:

- `order_personal_data` (anonymise) in batches of SHOP_RETENTION_BATCH_SIZE, and
- `order_records` (retention end: delete, with lines) in batches,

and prints the total time, rows per second and the longest and median batch: the time one
transaction held its row locks. Not part of `make test`.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "shop_bench_retention"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")

    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="shop.settings",
        SHOP_RETENTION_BATCH_SIZE=str(args.batch),
        SHOP_ORDER_RETENTION_YEARS="10",
        SHOP_ORDER_RECORD_YEARS="12",
        VAR_DIR=str(Path("/tmp") / DATABASE),  # noqa: S108 (a scratch folder for the embedded secret key)
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from shop.orders.models import Order, OrderLine
    from shop.privacy import retention
    from tests.factories import StoreFactory

    call_command("migrate", verbosity=0)
    store = StoreFactory()
    template = Order.objects.create(
        email="ada@example.com",
        status=Order.Status.SHIPPED,
        fulfillment=Order.Fulfillment.DELIVERY,
        store=store,
        shipping_name="Ada Lovelace",
        shipping_street="Teststrasse 7",
        shipping_postal_code="10999",
        shipping_city="Berlin",
        shipping_country="DE",
        subtotal_minor=2000,
        delivery_fee_minor=490,
        total_minor=2490,
        currency="EUR",
    )
    columns = [f.column for f in Order._meta.concrete_fields if f.column not in ("id", "number", "created_at")]
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO orders_order (number, created_at, {', '.join(columns)}) "  # noqa: S608 (model's own columns)
            f"SELECT 'B' || lpad(n::text, 10, '0'), now() - interval '20 years', {', '.join(columns)} "
            "FROM orders_order, generate_series(1, %s) AS n WHERE id = %s",
            [args.orders - 1, template.pk],
        )
        cursor.execute(
            "INSERT INTO orders_orderline (order_id, product_name, unit_price_minor, quantity) "
            "SELECT id, 'Tea', 1000, 2 FROM orders_order"
        )
        cursor.execute("UPDATE orders_order SET created_at = now() - interval '20 years'")
        cursor.execute("ANALYZE")
    made = time.monotonic() - started
    print(f"{Order.objects.count():,} orders, {OrderLine.objects.count():,} lines made in {made:.1f} s")

    for name in ("order_personal_data", "order_records"):
        policy = next(p for p in retention.POLICIES if p.name == name)
        batches: list[float] = []
        started = time.monotonic()
        rows = retention.apply_policy(policy, now=timezone.now(), on_batch=lambda _, sec, b=batches: b.append(sec))
        elapsed = time.monotonic() - started
        print(
            f"{name}: {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s), {len(batches)} batches of "
            f"{args.batch:,}: longest {max(batches):.2f} s, median {statistics.median(batches):.2f} s"
        )
    print(f"left: {Order.objects.count()} orders, {OrderLine.objects.count()} lines")


if __name__ == "__main__":
    main()
