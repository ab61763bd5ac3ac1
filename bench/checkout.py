#!/usr/bin/env python
"""Checkout benchmark: this tree against a baseline revision, side by side in one run, as ratios.

    .venv/bin/python bench/checkout.py                           # against the default baseline, both databases
    .venv/bin/python bench/checkout.py --baseline HEAD~5 --database postgresql --rounds 5
    .venv/bin/python bench/checkout.py --rounds 1 --loops 8      # a quick smoke run

Each tree (this one, and the baseline checked out into a temporary git worktree) runs its production
configuration on this machine: gunicorn (--gunicorn-workers sync workers), a Celery worker (--worker-processes
pool processes), a database of its own (a SQLite file, or a PostgreSQL database created and dropped here),
a vhost of its own on a private RabbitMQ node, a Redis database of its own as CACHE_URL (14 and 15, emptied
first; the test suite uses 12 and 13), CONN_MAX_AGE=60, DEBUG off, Django's locmem mail backend (the email
is built and serialised, not sent anywhere). A load driver in a separate process runs shopper threads; each
shopper loop is one order:

    product page -> add to cart -> checkout page -> checkout (the POST and, where the tree redirects, the
    thank-you page it redirects to: until the work on issue 11, the shop answered with a redirect)

Rounds alternate the order of the trees (new/baseline, baseline/new, ...) so that drift on a shared machine
hits both alike; every figure is the median over the rounds. Reported, per tree and as new / baseline:
orders/s with --shoppers shoppers; checkout p50 (until the thank-you page is in) with 1 and with --shoppers; the other
pages' p50; worker CPU per email (the worker's process group, from /proc, over the emails of a round); and,
from one probe checkout, the checkout POST's SQL statements and commits. And, for orders/s, worker CPU per email
and web CPU per order, the spread of the ratio within the run: each round of this tree against the baseline's
round of the same number, run next to it (lowest, highest, median). Printed as a table and JSON (--json).
"""

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit.database import ScratchDatabase  # noqa: E402
from testkit.processes import manage, shop_environment, start_gunicorn, start_worker  # noqa: E402
from testkit.rabbit import RabbitNode  # noqa: E402
from testkit.shopper import Shopper  # noqa: E402
from testkit.stats import median, percentile  # noqa: E402
from testkit.waiting import wait_until  # noqa: E402

# Main before the work on issue 23 (a house a newcomer can live in): what "today's main" meant when it was filed.
DEFAULT_BASELINE = "93f9f6b"
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]+)"')
PAGES = ("product", "add", "checkout_page", "checkout")
PREPARE = (
    "import json; from shop.models import Product; Product.objects.update(stock=10**9, available=True);"
    "print(json.dumps([p.get_absolute_url() for p in Product.objects.all()]) + '\\n' + "
    "json.dumps(list(Product.objects.values_list('id', flat=True))))"
)
# One checkout through the test client, counting SQL statements and commits (as tests/scale/test_query_budgets.py).
PROBE = r"""
import json
from django.db import connection
from django.test import Client
from django.urls import reverse
from shop.models import Product
statements, commits = [], [0]
real_commit = connection.commit
def commit():
    commits[0] += 1
    return real_commit()
def count(execute, sql, params, many, context):
    statements.append(sql)
    if not context["connection"].in_atomic_block and sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
        commits[0] += 1
    return execute(sql, params, many, context)
client = Client()
product = Product.objects.first()
client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
page = client.get(reverse("orders:order_create")).content.decode()
key = page.split('name="idempotency_key" value="')[1].split('"')[0] if "idempotency_key" in page else ""
customer = {"first_name": "Probe", "last_name": "Probe", "email": "probe@example.com", "address": "1 Probe Road",
            "postal_code": "10115", "city": "Berlin", "idempotency_key": key}
with connection.execute_wrapper(count):  # the publish to the broker included, as in production
    connection.commit = commit
    response = client.post(reverse("orders:order_create"), customer)
    connection.commit = real_commit
print("PROBE=" + json.dumps({"status": response.status_code, "statements": len(statements), "commits": commits[0]}))
"""


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- The load driver (its own process: python bench/checkout.py --drive) ---------------------------------


def drive(job):
    """Run `job["shoppers"]` shopper threads of `job["loops"]` orders each; return the timings."""
    timings = {page: [] for page in PAGES}
    ends, errors, lock = [], [], threading.Lock()
    start = threading.Barrier(job["shoppers"] + 1)

    def shopper(index):
        rng = random.Random(job["seed"] + index)
        client = Shopper(job["base_url"], language=job["language"])
        client.request("GET", "/")  # the first visit (cookies), outside the measurement
        start.wait()
        for loop in range(job["loops"]):
            try:
                mine = {}
                t = time.perf_counter()
                assert client.request("GET", rng.choice(job["product_urls"]))[0] == 200
                mine["product"] = time.perf_counter() - t
                t = time.perf_counter()
                assert client.add_to_cart(rng.choice(job["product_ids"]), 1) == 302
                mine["add"] = time.perf_counter() - t
                t = time.perf_counter()
                status, _, page = client.request("GET", f"{client.pages}/orders/create/")
                mine["checkout_page"] = time.perf_counter() - t
                assert status == 200
                key = KEY.search(page)
                form = {
                    "first_name": "Bench",
                    "last_name": "Shopper",
                    "email": f"bench+{index}-{loop}@example.com",
                    "address": f"{loop} Bench Road",
                    "postal_code": "10115",
                    "city": "Berlin",
                    "idempotency_key": key.group(1) if key else "",
                }
                t = time.perf_counter()
                status, location, body = client.request("POST", f"{client.pages}/orders/create/", form)
                if status == 302:  # a tree that redirects to its thank-you page (the baseline): follow it
                    assert location == f"{client.pages}/orders/created/", (status, location, body[:300])
                    status, _, body = client.request("GET", location)
                assert status == 200 and 'id="order-number"' in body, (status, location, body[:300])
                mine["checkout"] = time.perf_counter() - t
                with lock:
                    for page_name, seconds in mine.items():
                        timings[page_name].append(seconds)
                    ends.append(time.perf_counter())
            except Exception as error:  # noqa: BLE001  (counted; the loop goes on)
                with lock:
                    errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    threads = [threading.Thread(target=shopper, args=(index,)) for index in range(job["shoppers"])]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    # Throughput while every shopper was still shopping: a closed loop thins out at its very end.
    steady_end = sorted(ends)[int(len(ends) * 0.9) - 1] if len(ends) >= 10 else (max(ends) if ends else began)
    steady = sum(1 for end in ends if end <= steady_end)
    return {
        "timings": timings,
        "orders": len(ends),
        "errors": errors[:20],
        "error_count": len(errors),
        "orders_per_s": steady / (steady_end - began) if steady_end > began else 0.0,
    }


# --- One tree: its database, vhost, cache, web server and worker -----------------------------------------


class Tree:
    def __init__(self, label, path, database, node, redis_db, workdir, args):
        self.label, self.path = label, path
        self.logs = workdir / label
        self.logs.mkdir()
        self.db = ScratchDatabase(
            None if database == "sqlite" else f"{args.postgres}/myshop_bench_{label}", self.logs, marker="bench"
        ).create()
        vhost = f"bench-{label}"
        node.add_vhost(vhost)
        self.env = shop_environment(
            database=self.db.url,
            broker=node.url.rstrip("/") + "/" + vhost,
            CACHE_URL=f"redis://127.0.0.1:6379/{redis_db}",
            CONN_MAX_AGE=60,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="WARNING",
            CELERY_BEAT_SCHEDULE_FILENAME=self.logs / "beat-schedule",
        )
        _flush_redis(redis_db)
        manage(self.env, "migrate", "--noinput", cwd=path)
        manage(self.env, "load_demo_catalog", cwd=path)
        product_urls, product_ids = manage(self.env, "shell", "-c", PREPARE, cwd=path).strip().splitlines()[-2:]
        self.product_urls, self.product_ids = json.loads(product_urls), json.loads(product_ids)
        self.web = start_gunicorn(
            self.env, self.logs, workers=args.gunicorn_workers, threads=args.gunicorn_threads, cwd=path
        )
        self.worker = start_worker(
            self.env, self.logs, name=f"bench-{label}", concurrency=args.worker_processes, cwd=path
        )
        self.language = page_language(self.web.base_url)
        self.rounds = []

    def worker_cpu_seconds(self):
        """utime + stime of the worker and its pool processes, from /proc."""
        return cpu_seconds(lambda pid, name: self.worker.owns(pid))

    def web_cpu_seconds(self):
        return cpu_seconds(lambda pid, name: self.web.owns(pid))

    def emails_sent(self):
        """Confirmations sent: from the outbox, or from the order's own columns in a tree from before it."""
        try:
            return self.db.query("SELECT COUNT(*) FROM orders_orderemail WHERE state = 'sent'")[0][0]
        except Exception:  # no outbox table: a baseline from before issue 9
            return self.db.query("SELECT COUNT(*) FROM orders_order WHERE confirmation_status = 'sent'")[0][0]

    def orders(self):
        return self.db.query("SELECT COUNT(*) FROM orders_order")[0][0]

    def probe(self):
        env = {**self.env, "ALLOWED_HOSTS": "testserver", "DEBUG": "0"}
        output = manage(env, "shell", "-c", PROBE, cwd=self.path)
        return json.loads(output.split("PROBE=", 1)[1].splitlines()[0])

    def close(self):
        for process in (self.worker, self.web):
            process.stop()
        self.db.drop()


def page_language(base_url):
    """The language prefix the shopper's pages have on this tree: "en" when "/" redirects to "/en/", None for
    a tree from before the shop had languages (its pages answer without a prefix)."""
    status, location, _ = Shopper(base_url, language=None).request("GET", "/")
    found = re.match(r"(?:https?://[^/]+)?/([a-z]{2})/$", location or "") if status == 302 else None
    return found.group(1) if found else None


def cpu_seconds(chosen):
    """utime + stime, in seconds, of the live processes for which chosen(pid, command name) is true."""
    total = 0
    for pid in (int(entry) for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            name, fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if chosen(pid, name.split("(", 1)[1]):
            fields = fields.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def services_cpu_seconds():
    """CPU of the services every tree shares the machine with: PostgreSQL, RabbitMQ, Redis."""
    return {
        service: cpu_seconds(lambda pid, name, prefix=prefix: name.startswith(prefix))
        for service, prefix in (("postgresql", "postgres"), ("rabbitmq", "beam.smp"), ("redis", "redis-server"))
    }


def _flush_redis(number):
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=number).flushdb()


def run_driver(tree, shoppers, loops, seed):
    job = {
        "base_url": tree.web.base_url,
        "shoppers": shoppers,
        "loops": loops,
        "seed": seed,
        "language": tree.language,
        "product_urls": tree.product_urls,
        "product_ids": tree.product_ids,
    }
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--drive"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the driver failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def measure(tree, args, round_number):
    """One round on `tree`: many shoppers, then one; the worker's CPU per email over the round."""
    cpu, emails = tree.worker_cpu_seconds(), tree.emails_sent()
    web_cpu, services, orders_before = tree.web_cpu_seconds(), services_cpu_seconds(), tree.orders()
    driver_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = run_driver(tree, args.shoppers, args.loops, seed=1000 * round_number)
    driver_cpu = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        - driver_cpu.ru_utime
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        - driver_cpu.ru_stime
    )
    placed = tree.orders() - orders_before
    cpu_per_order = {
        "web": tree.web_cpu_seconds() - web_cpu,
        "driver": driver_cpu,
        **{name: seconds - services[name] for name, seconds in services_cpu_seconds().items()},
    }
    alone = run_driver(tree, 1, args.single_loops, seed=1000 * round_number + 999)
    wait_until(
        lambda: tree.emails_sent() >= tree.orders(),
        timeout=300,
        interval=0.5,
        what=f"the {tree.label} worker to send every email",
    )
    sent = tree.emails_sent() - emails
    result = {
        "orders_per_s": busy["orders_per_s"],
        "errors": busy["error_count"] + alone["error_count"],
        "error_samples": busy["errors"][:3] + alone["errors"][:3],
        "checkout_p50_ms_1": 1000 * percentile(alone["timings"]["checkout"], 0.5),
        **{f"{page}_p50_ms": 1000 * percentile(busy["timings"][page], 0.5) for page in PAGES},
        "worker_cpu_ms_per_email": 1000 * (tree.worker_cpu_seconds() - cpu) / sent if sent else None,
        # Where each order's CPU went while the shoppers shopped (the worker's is per email, above).
        **{f"cpu_ms_per_order_{name}": 1000 * seconds / placed for name, seconds in cpu_per_order.items()},
    }
    tree.rounds.append(result)
    log(
        f"{tree.label} round {round_number}: {result['orders_per_s']:.1f} orders/s, checkout p50 "
        f"{result['checkout_p50_ms_1']:.1f} ms alone, errors {result['errors']}"
    )


def summarise(tree):
    keys = [key for key in tree.rounds[0] if key not in ("errors", "error_samples")]
    summary = {key: median([r[key] for r in tree.rounds if r[key] is not None]) for key in keys}
    summary["errors"] = sum(r["errors"] for r in tree.rounds)
    return summary


def bench_database(database, baseline_path, args, workdir, node):
    log(f"=== {database}: preparing both trees")
    trees = {}
    try:
        trees["new"] = Tree("new", ROOT, database, node, 14, workdir / database, args)
        trees["baseline"] = Tree("baseline", baseline_path, database, node, 15, workdir / database, args)
        probes = {label: tree.probe() for label, tree in trees.items()}
        for round_number in range(args.rounds):
            order = ["new", "baseline"] if round_number % 2 == 0 else ["baseline", "new"]
            for label in order:
                measure(trees[label], args, round_number)
        summaries = {label: summarise(tree) for label, tree in trees.items()}
        for label in trees:
            summaries[label].update({f"probe_{key}": value for key, value in probes[label].items()})
        ratios = {
            key: summaries["new"][key] / summaries["baseline"][key]
            for key in summaries["new"]
            if isinstance(summaries["new"][key], (int, float)) and summaries["baseline"].get(key)
        }
        return {
            "new": summaries["new"],
            "baseline": summaries["baseline"],
            "new_over_baseline": ratios,
            "round_pair_ratios": round_pair_ratios(trees["new"].rounds, trees["baseline"].rounds),
            "rounds": {label: tree.rounds for label, tree in trees.items()},
        }
    finally:
        for tree in trees.values():
            tree.close()


# Each round of this tree against the baseline's round of the same number, run next to it: how far the ratio
# moves within one run (the machine's other load), to read the medians' ratios against.
PAIRED = {
    "orders_per_s": "orders/s",
    "worker_cpu_ms_per_email": "worker CPU per email",
    "cpu_ms_per_order_web": "web CPU per order",
}


def round_pair_ratios(new_rounds, baseline_rounds):
    """{key: [this tree's round ÷ the baseline's round of the same number, ...]} for the PAIRED keys."""
    return {
        key: [new[key] / base[key] for new, base in zip(new_rounds, baseline_rounds) if new.get(key) and base.get(key)]
        for key in PAIRED
    }


def print_table(report):
    print(
        f"\ncheckout benchmark: this tree vs baseline {report['baseline']}, {report['shoppers']} shoppers, "
        f"medians of {report['rounds']} rounds\n"
    )
    rows = [
        ("orders/s", "orders_per_s", "{:.1f}"),
        ("checkout p50, 1 shopper (ms)", "checkout_p50_ms_1", "{:.1f}"),
        (f"checkout p50, {report['shoppers']} shoppers (ms)", "checkout_p50_ms", "{:.1f}"),
        ("product page p50 (ms)", "product_p50_ms", "{:.1f}"),
        ("add to cart p50 (ms)", "add_p50_ms", "{:.1f}"),
        ("checkout page p50 (ms)", "checkout_page_p50_ms", "{:.1f}"),
        ("worker CPU per email (ms)", "worker_cpu_ms_per_email", "{:.2f}"),
        ("web CPU per order (ms)", "cpu_ms_per_order_web", "{:.1f}"),
        ("PostgreSQL CPU per order (ms)", "cpu_ms_per_order_postgresql", "{:.1f}"),
        ("RabbitMQ CPU per order (ms)", "cpu_ms_per_order_rabbitmq", "{:.1f}"),
        ("Redis CPU per order (ms)", "cpu_ms_per_order_redis", "{:.1f}"),
        ("load driver CPU per order (ms)", "cpu_ms_per_order_driver", "{:.1f}"),
        ("checkout POST: SQL statements", "probe_statements", "{:.0f}"),
        ("checkout POST: commits", "probe_commits", "{:.0f}"),
    ]
    for database, result in report["databases"].items():
        print(f"{database:<32} {'baseline':>10} {'this tree':>10} {'ratio':>7}")
        for title, key, fmt in rows:
            base, new = result["baseline"].get(key), result["new"].get(key)
            ratio = result["new_over_baseline"].get(key)
            print(
                f"  {title:<30} {fmt.format(base) if base is not None else '-':>10} "
                f"{fmt.format(new) if new is not None else '-':>10} {f'{ratio:.2f}' if ratio else '-':>7}"
            )
        for key, title in PAIRED.items():
            pairs = result.get("round_pair_ratios", {}).get(key)
            if pairs:
                print(
                    f"  {title} ratio, each round against the baseline's next to it: {min(pairs):.2f} to "
                    f"{max(pairs):.2f}, median {median(pairs):.2f}"
                )
        print(f"  errors: baseline {result['baseline']['errors']}, this tree {result['new']['errors']}\n")


def against_baseline(args, bench_database):
    """Check `args.baseline` out into a temporary git worktree, start a private RabbitMQ node, and call
    `bench_database(database, baseline_path, args, workdir, node)` for each database `args.database` names.
    Returns (the baseline's short revision, {database: its result}); the worktree, the node and the scratch
    folder are removed at the end, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="myshop-bench-"))
    baseline_path = workdir / "baseline-tree"
    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(baseline_path), revision], cwd=ROOT, check=True, capture_output=True
    )
    node, results = None, {}
    try:
        node = RabbitNode().start()
        for database in ["postgresql", "sqlite"] if args.database == "both" else [args.database]:
            (workdir / database).mkdir()
            results[database] = bench_database(database, baseline_path, args, workdir, node)
    finally:
        if node is not None:
            node.stop()
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline_path)], cwd=ROOT, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return revision, results


def main():
    if sys.argv[1:] == ["--drive"]:
        print(json.dumps(drive(json.load(sys.stdin))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision (default: %(default)s)")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="the PostgreSQL server for --database postgresql (databases myshop_bench_*)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--loops", type=int, default=25, help="orders per shopper per round")
    parser.add_argument("--single-loops", type=int, default=40, help="orders of the lone shopper per round")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-checkout.json")
    args = parser.parse_args()

    revision, results = against_baseline(args, bench_database)
    report = {
        "baseline": revision,
        "shoppers": args.shoppers,
        "rounds": args.rounds,
        "gunicorn_workers": args.gunicorn_workers,
        "gunicorn_threads": args.gunicorn_threads,
        "worker_processes": args.worker_processes,
        "databases": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(json.dumps({database: result["new_over_baseline"] for database, result in report["databases"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
