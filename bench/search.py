#!/usr/bin/env python
"""Finding products at scale: how long the catalog's list, category, sorted and search pages take with 10,000
products, on PostgreSQL.

    .venv/bin/python bench/search.py                    # 10,000 products: about a minute
    .venv/bin/python bench/search.py --products 50000   # a bigger catalog

A script, not a test. It creates a PostgreSQL database of its own (default myshop_bench_search on
postgres://postgres@127.0.0.1:5432; its name must contain "bench", since it is dropped at the end, also on
Ctrl-C or failure), migrates it and loads the products (20 categories; names like "Blue ceramic mug", a
description of 20 to 40 words; nine in ten available; "handmade" in about a third of the descriptions, one
"Unicorn" among the names; VACUUM ANALYZE, as autovacuum would). Then, in this process, Django's test client asks
for each page --repeat times after one warm-up request, and the script prints the median, fastest and slowest
time of each, this process's CPU time and the database's time per request, the queries it ran and the number of
products the page found, as a table and as JSON (also written to --json). Target: every page under 50 ms.

What is timed is the whole request inside Django (middleware, queries, templates), not the network.
"""

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from testkit.database import ScratchDatabase  # noqa: E402

TARGET_MS = 50
COLOURS = ["blue", "red", "green", "black", "white", "grey", "yellow", "pink", "golden", "silver"]
MATERIALS = ["ceramic", "oak", "steel", "glass", "linen", "wool", "copper", "bamboo", "leather", "cotton"]
THINGS = ["mug", "teapot", "kettle", "lamp", "chair", "basket", "candle", "blanket", "mirror", "rug"]
THINGS += ["bowl", "vase", "cushion", "clock", "shelf", "table", "towel", "jar", "tray", "plate"]
FILLER = """a an and the for with of in on to from by this that it its is are be made make makes use used
everyday kitchen garden living room bedroom bathroom hallway office table shelf window door wall floor
light warm soft strong simple classic modern small large tall wide deep round square long short heavy easy
clean wash hand dry keep store hold serve pour carry hang stand fit gift home family friend morning evening
tea coffee water bread fruit flowers plants books keys coats shoes towels cups plates spoons knives candles
finish colour colours natural matte glossy smooth rough sturdy durable gentle careful quality design designed
local workshop small-batch traditional craft crafted years lasting comfortable cosy bright calm quiet""".split()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=25, help="timed requests per page (after one warm-up)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/myshop_bench_search")
    parser.add_argument("--json", default=str(ROOT / "var" / "bench-search.json"))
    return parser.parse_args()


def load_catalog(size):
    """`size` products in 20 categories, as the module docstring describes; returns the categories."""
    from django.db import connection

    from shop.models import Category, Product

    rng = random.Random(25)
    categories = Category.objects.bulk_create(Category(name=f"Room {i}", slug=f"room-{i}") for i in range(20))

    def description():
        words = rng.choices(FILLER, k=rng.randint(20, 40))
        if rng.random() < 0.33:
            words.insert(rng.randrange(len(words)), "handmade")
        return " ".join(words).capitalize() + "."

    Product.objects.bulk_create(
        (
            Product(
                category=categories[i % 20],
                name=(
                    "Unicorn night light"
                    if i == size // 2
                    else f"{rng.choice(COLOURS).title()} {rng.choice(MATERIALS)} {rng.choice(THINGS)} {i}"
                ),
                slug=f"product-{i}",
                description=description(),
                price=rng.randint(100, 20000) / 100,
                stock=rng.randint(0, 50),
                available=i % 10 != 3,
            )
            for i in range(size)
        ),
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return categories


def pages(category, deep_page):
    """(name, path, query parameters) of each page timed."""
    from django.urls import reverse

    catalog = reverse("shop:product_list")
    room = category.get_absolute_url()
    return [
        ("list", catalog, {}),
        ("list, page 100", catalog, {"page": 100}),
        ("list by price", catalog, {"sort": "price"}),
        ("list by price, high first", catalog, {"sort": "-price"}),
        ("list, newest first", catalog, {"sort": "newest"}),
        ("category", room, {}),
        ("category by price", room, {"sort": "price"}),
        ("search, common word", catalog, {"q": "handmade"}),
        ("search, common word, page " + str(deep_page), catalog, {"q": "handmade", "page": deep_page}),
        ("search, common word by price", catalog, {"q": "handmade", "sort": "price"}),
        ("search, two words", catalog, {"q": "blue mug"}),
        ("search, rare word", catalog, {"q": "unicorn"}),
        ("search, in a category", room, {"q": "handmade"}),
        ("search, nothing found", catalog, {"q": "xylophone"}),
    ]


def time_page(client, path, params, repeat):
    """Ask for the page once (warm-up), then `repeat` times timed; then once more counting its SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, params)
    assert response.status_code == 200, (path, params, response.status_code)
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(path, params)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    shown = re.search(r"of (\d+) products?</p>", response.content.decode())  # the page's "1–12 of N products"
    return {
        "p50_ms": round(statistics.median(walls), 1),
        "min_ms": round(min(walls), 1),
        "max_ms": round(max(walls), 1),
        # This process's CPU (Django: middleware, views, templates) and the database's time, per request: on a
        # busy machine the wall time is more than their sum.
        "django_cpu_ms": round(statistics.median(cpus), 1),
        "sql_ms": round(sum(float(query["time"]) for query in captured.captured_queries) * 1000, 1),
        "queries": len(captured.captured_queries),
        "found": int(shown[1]) if shown else 0,
    }


def main():
    args = parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-search-")
    database = ScratchDatabase(args.database_url, workdir, marker="bench")
    if database.kind != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (--database-url postgres://...)")
    database.create()
    try:
        os.environ["DATABASE_URL"] = database.url
        os.environ["DJANGO_SETTINGS_MODULE"] = "myshop.test_settings"
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections
        from django.test import Client

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        print(f"loading {args.products:,} products ...", flush=True)
        categories = load_catalog(args.products)
        load_seconds = time.perf_counter() - started
        print(f"loaded in {load_seconds:.0f} s", flush=True)

        # Not setup_test_environment() around the timing: it instruments template rendering (for
        # response.context), which would be timed too. The test client's host has to be allowed instead.
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        per_page = settings.SHOP_PRODUCTS_PER_PAGE
        deep_page = max(1, args.products // 4 // per_page)  # about three quarters into "handmade"'s results
        client = Client()
        load_before = f"{os.getloadavg()[0]:.2f}"
        results = {}
        for name, path, params in pages(categories[4], deep_page):
            results[name] = time_page(client, path, params, args.repeat)
            print(f"  {name}: {results[name]['p50_ms']} ms", flush=True)
        connections.close_all()
    finally:
        database.drop()

    print()
    print(f"{args.products:,} products on PostgreSQL, {per_page} a page; each page asked {args.repeat} times")
    print(f"load average before the run: {load_before}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(
        f"{'page':<32} {'p50 ms':>7} {'min ms':>7} {'max ms':>7} {'cpu ms':>7} {'sql ms':>7} {'queries':>7} "
        f"{'found':>6}  target"
    )
    for name, result in results.items():
        target = ("ok" if result["p50_ms"] < TARGET_MS else "MISSED") + f" (< {TARGET_MS} ms)"
        print(
            f"{name:<32} {result['p50_ms']:>7} {result['min_ms']:>7} {result['max_ms']:>7} "
            f"{result['django_cpu_ms']:>7} {result['sql_ms']:>7} {result['queries']:>7} {result['found']:>6}  {target}"
        )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "products": args.products,
        "per_page": per_page,
        "repeat": args.repeat,
        "load_seconds": round(load_seconds, 1),
        "load_average": [load_before, f"{os.getloadavg()[0]:.2f}"],
        "target_ms": TARGET_MS,
        "pages": results,
        "met": all(result["p50_ms"] < TARGET_MS for result in results.values()),
    }
    print(json.dumps(report, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
