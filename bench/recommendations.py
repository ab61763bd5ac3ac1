#!/usr/bin/env python
"""Recommendations at scale: the nightly rebuild, counting one paid order, and the product page, on PostgreSQL.

    .venv/bin/python bench/recommendations.py                    # 200,000 paid orders of 3 lines, 500 products
    .venv/bin/python bench/recommendations.py --orders 20000     # a quicker look

A script, not a test. It creates a PostgreSQL database of its own (dropped at the end; its name must contain
"bench") and a private Redis (testkit.redis), has PostgreSQL write the orders (testkit.bulk_orders, then three
lines each from --products products), and prints: the rebuild's time and Redis's memory after it, the time to
count one more order (the worker's task, median of 200), and the product page's time (median of 50).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from testkit.database import ScratchDatabase  # noqa: E402
from testkit.redis import RedisServer  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=500, help="at least 75 (three distinct per order)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/myshop_bench_recs")
    return parser.parse_args()


def main():
    args = parse_args()
    database = ScratchDatabase(args.database_url, tempfile.mkdtemp(prefix="bench-recs-"), marker="bench")
    if database.kind != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (--database-url postgres://...)")
    redis_server = RedisServer().start()
    database.create()
    try:
        os.environ.update(DATABASE_URL=database.url, DJANGO_SETTINGS_MODULE="myshop.test_settings")
        os.environ["RECOMMENDATIONS_REDIS_URL"] = redis_server.url
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from orders.models import Order
        from recommendations import services, store
        from shop.models import Category, Product
        from testkit.bulk_orders import load_orders

        call_command("migrate", verbosity=0)
        category = Category.objects.create(name="Kitchen", slug="kitchen")
        products = Product.objects.bulk_create(
            Product(category=category, name=f"Product {n}", slug=f"product-{n}", price=5) for n in range(args.products)
        )
        ids = ",".join(str(product.id) for product in products)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # testkit.bulk_orders predates the columns orders 0014 added (no database default): give them one.
            defaults = {"carrier": "''", "coupon_code": "''", "tracking_number": "''", "discount": 0}
            for column, default in defaults.items():
                cursor.execute(f"ALTER TABLE orders_order ALTER COLUMN {column} SET DEFAULT {default}")
            load_orders(cursor, args.orders, product_ids=[products[0].id, products[1].id])
            cursor.execute("DELETE FROM orders_orderitem")
            cursor.execute(f"""
                INSERT INTO orders_orderitem (order_id, product_id, price, quantity)
                SELECT id, (ARRAY[{ids}])[(id * 7919 + k * 37) % {args.products} + 1], 5.00, 1
                FROM orders_order, generate_series(0, 2) AS k
            """)
            cursor.execute("ANALYZE")
        paid = Order.objects.filter(status__in=services.COUNTED).count()
        print(f"loaded {args.orders:,} orders ({paid:,} paid or shipped) in {time.perf_counter() - started:.0f} s")

        connection_ = store.client(for_page=False)
        started = time.perf_counter()
        services.rebuild()
        rebuild_seconds = time.perf_counter() - started
        memory = connection_.info("memory")["used_memory"] - 1_000_000  # an empty Redis uses about 1 MB
        rate = paid / rebuild_seconds
        print(f"rebuild: {rebuild_seconds:.1f} s, {rate:,.0f} paid orders/s; Redis ~{memory / 1e6:.1f} MB")

        extra = list(Order.objects.filter(status__in=services.COUNTED).values_list("id", flat=True)[:200])
        timings = []
        for order_id in extra:
            connection_.setbit(store.Keys.live().counted_orders, order_id, 0)  # counted again, as if new
            started = time.perf_counter()
            services.count_paid_order(order_id)
            timings.append(time.perf_counter() - started)
        print(f"count one paid order (the task's work): median {statistics.median(timings) * 1000:.2f} ms")

        client, url = Client(HTTP_HOST="127.0.0.1"), products[0].get_absolute_url()
        client.get(url)
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            assert b"Customers also bought" in client.get(url).content
            timings.append(time.perf_counter() - started)
        print(f"product page with its recommendations: median {statistics.median(timings) * 1000:.1f} ms")
    finally:
        database.drop()
        redis_server.stop()


if __name__ == "__main__":
    main()
