"""Where a page's time goes, in-process: cProfile under Django's test client, plus EXPLAIN ANALYZE.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/profile_pages.py [--requests 50]

Run it against a database `bench/run.py` has built (it reads, never writes the catalogue). For each
page it prints the share of time spent rendering templates, in SQL, and elsewhere, and the
EXPLAIN ANALYZE of each distinct SQL statement of one request.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

PAGES = {
    "home": "/",
    "products list": "/products/",
    "search": "/products/?q=lantern",
    "product page": "/products/stoneware-mug/",
    "cart": "/cart/",
}


def cumulative(stats: pstats.Stats, needle: str) -> float:
    """Cumulative seconds of the outermost functions whose file and name contain `needle`."""
    return max(
        (row[3] for (file, _line, name), row in stats.stats.items() if needle in f"{file}:{name}"),
        default=0.0,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    client = Client(HTTP_HOST="127.0.0.1")
    client.post("/cart/add/stoneware-mug/", {"quantity": "1"})
    for label, path in PAGES.items():
        client.get(path)  # warm the template loader and the cache
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(args.requests):
            client.get(path)
        profile.disable()
        wall = (time.perf_counter() - started) / args.requests * 1000
        stats = pstats.Stats(profile)
        total = stats.total_tt
        render = cumulative(stats, "django/template/base.py:render")
        sql = cumulative(stats, "django/db/backends/utils.py:execute")
        print(f"\n== {label} {path}: {wall:.1f} ms/request in-process (profiled)")
        print(
            f"   templates {render / total:.0%}, SQL (incl. driver) {sql / total:.0%}, "
            f"other (middleware, view, ORM building) {max(0, total - render - sql) / total:.0%}"
        )
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        print(f"   {len(queries)} queries")
        for query in queries.captured_queries:
            sql_text = query["sql"]
            if not sql_text.lstrip().upper().startswith("SELECT"):
                print(f"   (not a SELECT: {sql_text[:80]})")
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING ON) " + sql_text)
                plan = [row[0] for row in cursor.fetchall()]
            print(f"   {query['time']}s  {sql_text[:110]}")
            for line in plan[:1] + [p for p in plan if "Scan" in p or "Execution" in p][:4]:
                print(f"      {line.strip()[:120]}")
        stats.sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
