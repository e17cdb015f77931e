"""Latency of one scoring through the real services, on PostgreSQL and Redis as in production.

    .venv/bin/python bench/fraud/latency.py [--orders 2000]

Creates (drops first) the database `shop_fraud_bench`, migrates it, and scores --orders checkouts and
one payment attempt each through shop.risk.interface (features, list lookups, velocity counters in
Redis DB 3, the assessment row written, a hold when the score asks). Prints p50/p99 per call,
wall-clock and CPU: the machine is shared, so the wall clock includes time other processes took.
"""

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop_fraud_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
os.environ["DJANGO_SETTINGS_MODULE"] = "shop.settings"
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="shop_fraud_bench_"))


def _recreate_database():
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    if not name.startswith("shop_fraud_bench"):
        sys.exit("refusing to drop a database not named shop_fraud_bench*")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from shop.risk import interface as risk

    rng = random.Random(7)
    wall, cpu = [], []

    def timed(call):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        return result

    devices = [secrets.token_urlsafe(16) for _ in range(300)]
    for n in range(args.orders):
        client = risk.Client(
            session_key=secrets.token_hex(16),
            address=f"10.0.{rng.randint(0, 40)}.{rng.randint(1, 254)}",
            device_id=rng.choice(devices),
        )
        quantity = rng.choice([1, 1, 1, 2, 3, 6])
        facts = risk.OrderFacts(
            user_id=None,
            email=f"shopper{rng.randint(1, 5000)}@example.com",
            fulfillment=rng.choice(["delivery", "pickup"]),
            total_minor=rng.randint(900, 60000),
            currency="EUR",
            lines=(
                risk.LineFacts(
                    product_id=rng.randint(1, 300),
                    category_slug=rng.choice(["books", "electronics"]),
                    quantity=quantity,
                    unit_price_minor=2000,
                ),
            ),
            client=client,
            shipping_street=f"Weg {rng.randint(1, 400)}",
            shipping_postal_code="10115",
            shipping_city="Berlin",
            shipping_country="DE",
        )
        assessment = timed(lambda facts=facts: risk.assess_order(facts=facts))
        if assessment.blocked:
            continue
        risk.link_order(assessment=assessment, order_id=n + 1, order_number=f"BENCH-{n:05d}")
        attempt = risk.PaymentAttemptFacts(
            order_id=n + 1,
            order_number=f"BENCH-{n:05d}",
            user_id=None,
            amount_minor=facts.total_minor,
            currency="EUR",
            client=client,
            shipping_country="DE",
        )
        timed(lambda attempt=attempt: risk.assess_payment(facts=attempt))
        risk.record_payment_result(
            order_id=n + 1,
            user_id=None,
            client=client,
            card_fingerprint=secrets.token_hex(8),
            declined=rng.random() < 0.05,
        )
    wall.sort()
    cpu.sort()

    def pct(values, share):
        return values[min(int(len(values) * share), len(values) - 1)] * 1000

    print(f"{len(wall)} scorings (checkouts and payment attempts) on PostgreSQL + Redis, {os.cpu_count()} CPUs")
    print(f"wall clock: p50 {pct(wall, 0.5):.2f} ms, p90 {pct(wall, 0.9):.2f} ms, p99 {pct(wall, 0.99):.2f} ms")
    print(f"CPU of this process: p50 {pct(cpu, 0.5):.2f} ms, p99 {pct(cpu, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
