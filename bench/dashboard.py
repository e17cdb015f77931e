"""How fast the security dashboard's figures are with a year of audit events (1,000,000 rows).

    .venv/bin/python bench/dashboard.py [--events 1000000]

Uses its own database `shop_bench_ops` on 127.0.0.1:5432 (dropped and recreated each run).
The events are inserted in time order (as the shop writes them) by one INSERT ... SELECT
generate_series (the bench measures reads: the rows are not hash-chained). Then each figure's selector
runs for 30 and 90 days, five times each, and the median is printed, with the whole page's
selectors together. Not part of `make test`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "shop_bench_ops"
ACTIONS = [
    ("login.succeeded", 40),
    ("login.failed", 12),
    ("login.locked_out", 1),
    ("payment.requires_action", 3),
    ("payment.captured", 10),
    ("order.paid", 10),
    ("privacy.queue_viewed", 4),
    ("session.ended", 20),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}", "DATABASE_POOL": "false"}
    env["VAR_DIR"] = tempfile.mkdtemp(prefix="bench-ops-")
    env.pop("REDIS_URL", None)
    dropdb = ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", DB]
    subprocess.run(dropdb, check=True)  # noqa: S603, S607 -- fixed arguments, no shell
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)  # noqa: S603, S607
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.db import connection

    weights = []
    for action, weight in ACTIONS:
        weights += [action] * weight
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO core_auditevent (seq, created_at, action, actor_id, subject_type, subject_id, data,
                                         prev_hash, hash)
            SELECT n, now() - interval '365 days' * (1 - n::float / %s), (%s::text[])[1 + (n %% %s)], NULL, '', '',
                   '{}'::jsonb, repeat('0', 64), md5(n::text) || md5((n + 1)::text)
            FROM generate_series(1, %s) AS n
            """,
            [args.events, weights, len(weights), args.events],
        )
        cursor.execute("VACUUM ANALYZE core_auditevent")  # what autovacuum does soon after in the shop
    print(f"inserted {args.events:,} audit events over 365 days in {time.monotonic() - started:.1f} s")

    from shop.operations import selectors

    for days in selectors.PERIODS:
        period = selectors.period_days(days)
        page = []
        for name, build in selectors.FIGURES.items():
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                build(period)
                runs.append(time.perf_counter() - t0)
            page.append(statistics.median(runs))
            print(f"{days:>3} days  {name:<12} median {1000 * statistics.median(runs):7.1f} ms")
        print(f"{days:>3} days  all figures  {1000 * sum(page):7.1f} ms (one dashboard page)")


if __name__ == "__main__":
    main()
