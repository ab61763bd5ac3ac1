#!/usr/bin/env python
"""Admin at scale: how long the order admin's pages take with a million orders, on PostgreSQL.

    .venv/bin/python bench/admin_scale.py                       # 1,000,000 orders: 3-6 minutes, mostly loading
    .venv/bin/python bench/admin_scale.py --orders 100000       # a quicker look
    .venv/bin/python bench/admin_scale.py --keep; ... --reuse   # load once, time again on a quieter machine

A script, not a test. It creates a PostgreSQL database of its own (default myshop_bench_admin on
postgres://postgres@127.0.0.1:5432; its name must contain "bench", since it is dropped at the end, also on
Ctrl-C or failure), migrates it, and has PostgreSQL write the orders itself (testkit.bulk_orders: INSERT ...
SELECT generate_series; two lines and a confirmation email per order, every 1000th confirmation failed,
shipping notices for the shipped ones; VACUUM ANALYZE, as autovacuum would). Then, in this process, Django's
test client logged in as a superuser asks for each admin page --repeat times after one warm-up request, and
the script prints the median, fastest and slowest time of each, this process's CPU time and the database's time
per request, the queries
it ran, the rows it showed and the count the list gave ("~": estimated), as a table and as JSON (also written
to --json). Target: the list, every search (whole or part of a name, email or number), and the "confirmation failed"
filter each under 100 ms.

What is timed is the whole request inside Django (middleware, queries, templates), not the network.
"""

import argparse
import json
import os
import platform
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

TARGET_MS = 100
TARGETED = (
    "order list",
    "search by email",
    "search by number",
    "confirmation failed",
    "search by name",
    "search part of a number",
    "search part of an email",
    "search part of a name",
    "search a common part",
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page (after one warm-up)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/myshop_bench_admin")
    parser.add_argument("--json", default=str(ROOT / "var" / "bench-admin-scale.json"))
    parser.add_argument("--keep", action="store_true", help="keep the loaded database (for --reuse)")
    parser.add_argument("--reuse", action="store_true", help="time a database kept by --keep: no load, no drop")
    return parser.parse_args()


def pages(sample):
    """(name, path, query parameters) of each admin request timed; `sample` is an order from the middle."""
    from django.urls import reverse

    changelist = reverse("admin:orders_order_changelist")
    return [
        ("order list", changelist, {}),
        ("search by email", changelist, {"q": sample.email}),
        ("search by number", changelist, {"q": sample.number}),
        ("confirmation failed", changelist, {"confirmation": "failed"}),
        ("search by name", changelist, {"q": f"{sample.first_name} {sample.last_name}"}),
        ("search part of a number", changelist, {"q": sample.number[3:7].lower()}),  # "7k4p"
        ("search part of an email", changelist, {"q": sample.email.split("@")[0][3:]}),  # "pper500000"
        ("search part of a name", changelist, {"q": "ana"}),  # no such name: numbers with "ANA" only
        ("search a common part", changelist, {"q": "ada"}),  # every eighth order is Ada's
        ("status paid", changelist, {"status__exact": "paid"}),
        ("order list, page 20", changelist, {"p": "20"}),
        ("order page", reverse("admin:orders_order_change", args=[sample.id]), {}),
    ]


def time_page(client, path, params, repeat):
    """Ask for the page once (warm-up), then `repeat` times timed; then once more counting its SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, params)
    assert response.status_code == 200, (path, params, response.status_code)
    changelist = response.context_data.get("cl") if response.context_data else None
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(path, params)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as captured:
        client.get(path, params)
    return {
        "p50_ms": round(statistics.median(walls), 1),
        "min_ms": round(min(walls), 1),
        "max_ms": round(max(walls), 1),
        # This process's CPU (Django: middleware, admin, templates) and the database's time, per request: on a
        # busy machine the wall time is more than their sum.
        "django_cpu_ms": round(statistics.median(cpus), 1),
        "sql_ms": round(sum(float(query["time"]) for query in captured.captured_queries) * 1000, 1),
        "queries": len(captured.captured_queries),
        "rows_shown": len(changelist.result_list) if changelist is not None else None,
        "count": getattr(changelist, "result_count", None),
        "count_estimated": getattr(getattr(changelist, "paginator", None), "count_is_estimate", False),
    }


def main():
    args = parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-admin-")
    database = ScratchDatabase(args.database_url, workdir, marker="bench")
    if database.kind != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (--database-url postgres://...)")
    if not args.reuse:
        database.create()
    try:
        os.environ["DATABASE_URL"] = database.url
        os.environ["DJANGO_SETTINGS_MODULE"] = "myshop.test_settings"
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection, connections
        from django.test import Client

        from orders.models import Order
        from shop.models import Category, Product
        from testkit.bulk_orders import load_orders

        call_command("migrate", verbosity=0)
        load_seconds = 0.0
        if not args.reuse:
            category = Category.objects.create(name="Kitchen", slug="kitchen")
            products = [
                Product.objects.create(
                    category=category, name=name, slug=name.lower().replace(" ", "-"), price=price, stock=0
                )
                for name, price in (("Blue mug", 7), ("Teapot", 20.5))
            ]
            started = time.perf_counter()
            print(f"loading {args.orders:,} orders ...", flush=True)
            with connection.cursor() as cursor:
                load_orders(cursor, args.orders, product_ids=[product.id for product in products], vacuum=True)
            load_seconds = time.perf_counter() - started
            print(f"loaded in {load_seconds:.0f} s", flush=True)
        args.orders = Order.objects.count() if args.reuse else args.orders

        # Not setup_test_environment(): it instruments template rendering (for response.context), which would
        # be timed too. The test client's host has to be allowed instead.
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        client = Client()
        operator = get_user_model().objects.filter(username="bench").first()
        client.force_login(
            operator or get_user_model().objects.create_superuser("bench", "bench@example.com", "a long passphrase")
        )
        sample = Order.objects.order_by("id")[args.orders // 2]
        load_before = f"{os.getloadavg()[0]:.2f}"
        results = {}
        for name, path, params in pages(sample):
            results[name] = time_page(client, path, params, args.repeat)
            print(f"  {name}: {results[name]['p50_ms']} ms", flush=True)
        connections.close_all()
    finally:
        if not (args.keep or args.reuse):
            database.drop()

    print()
    print(f"{args.orders:,} orders on PostgreSQL; each page asked {args.repeat} times after a warm-up")
    print(f"load average before the run: {load_before}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(
        f"{'page':<22} {'p50 ms':>7} {'min ms':>7} {'max ms':>7} {'cpu ms':>7} {'sql ms':>7} {'queries':>7} "
        f"{'rows':>5} {'count':>10}  target"
    )
    for name, result in results.items():
        target = (
            (("ok" if result["p50_ms"] < TARGET_MS else "MISSED") + f" (< {TARGET_MS} ms)") if name in TARGETED else ""
        )
        count = "-" if result["count"] is None else f"{'~' if result['count_estimated'] else ''}{result['count']}"
        print(
            f"{name:<22} {result['p50_ms']:>7} {result['min_ms']:>7} {result['max_ms']:>7} "
            f"{result['django_cpu_ms']:>7} {result['sql_ms']:>7} {result['queries']:>7} "
            f"{result['rows_shown'] if result['rows_shown'] is not None else '-':>5} {count:>10}  {target}"
        )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "orders": args.orders,
        "repeat": args.repeat,
        "load_seconds": round(load_seconds, 1),
        "load_average": [load_before, f"{os.getloadavg()[0]:.2f}"],
        "target_ms": TARGET_MS,
        "pages": results,
        "met": all(results[name]["p50_ms"] < TARGET_MS for name in TARGETED),
    }
    print(json.dumps(report, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
