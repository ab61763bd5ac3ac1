#!/usr/bin/env python
"""Instructions per order on the web tier and per email on the worker, this tree against a baseline: counted.

    .venv/bin/python bench/instructions.py                          # against the default baseline, PostgreSQL
    .venv/bin/python bench/instructions.py --variant orm-lookups    # and this tree without its compiled queries

For keeping or dropping a speed trick (code that bypasses a public API stays if it saves 3 % of CPU per order):
CPU times here move 10-20 % between runs, callgrind's instruction counts a fraction of a percent. In each tree's
checkout (and for each --variant: this tree with a change the driver patches in), on a database of its own, one
process places orders through Django's test Client (product page, add to cart, checkout page, checkout POST; the
publish to the broker stubbed out), then sends their confirmation emails by calling the task (locmem mail).
A run of --warm + --orders under callgrind minus one of --warm, divided by --orders: one order's or one email's
cost without start-up, in the shop's process in user space (not PostgreSQL's, Redis's or the kernel's).
Needs valgrind (apt-get install -y valgrind).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# main before the current work (cross-cutting code moved into core, and what followed).
DEFAULT_BASELINE = "93f9f6b"
REDIS_DB = 9  # the test suite and the other benchmarks use 10 to 15
TOTAL = re.compile(rb"^(?:summary|totals): (\d+)", re.M)
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]+)"')


# --- Variants: this tree with one change, patched in by the driver after django.setup() ------------------


def orm_lookups():
    """The compiled queries (core/compiled.py) answered by the plain ORM."""
    from core.compiled import CompiledQuery

    CompiledQuery.__call__ = lambda self, *arguments: list(self.make_queryset(*arguments))


# Another variant: a function that patches this tree, and its name here.
VARIANTS = {"orm-lookups": orm_lookups}


# --- The driver: one process under callgrind, in the measured tree (python bench/instructions.py --drive) ---


def drive(mode, count, variant):
    """Place `count` orders (mode "web") or send `count` pending confirmation emails ("email"), in-process."""
    sys.path[0] = os.getcwd()  # the measured tree's code, not this one's
    import django

    django.setup()
    from orders import outbox

    # The broker is not touched: the publish is stubbed (the class was OutboxTask before it was EmailTask).
    published = []
    task_class = getattr(outbox, "EmailTask", None) or outbox.OutboxTask
    task_class.delay = lambda self, order_id: published.append(order_id) or True
    if variant:
        VARIANTS[variant]()
    if mode == "web":
        place_orders(count)
        assert len(published) == count, f"{len(published)} emails published for {count} orders"
    else:
        send_emails(count)


def place_orders(count):
    from django.test import Client
    from django.urls import reverse

    from shop.models import Product

    products = list(Product.objects.order_by("id"))
    checkout = reverse("orders:order_create")
    client = Client()
    for number in range(count):
        product = products[number % len(products)]
        assert client.get(product.get_absolute_url()).status_code == 200
        assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code == 302
        page = client.get(checkout)
        assert page.status_code == 200
        customer = {
            "first_name": "Bench",
            "last_name": "Shopper",
            "email": f"bench+{number}@example.com",
            "address": f"{number} Bench Road",
            "postal_code": "10115",
            "city": "Berlin",
            "idempotency_key": KEY.search(page.content.decode()).group(1),
        }
        response = client.post(checkout, customer, follow=True)  # a tree that redirects: its thank-you page too
        assert response.status_code == 200 and b'id="order-number"' in response.content, response.status_code


def send_emails(count):
    from django.core import mail

    from orders.models import OrderEmail
    from orders.tasks import order_created

    pending = OrderEmail.objects.filter(kind="confirmation", state="pending").order_by("id")
    order_ids = list(pending.values_list("order_id", flat=True)[:count])
    assert len(order_ids) == count, f"{len(order_ids)} pending confirmation emails, not {count}"
    for order_id in order_ids:
        outcome = order_created(order_id)
        assert outcome == "sent", outcome
    assert len(mail.outbox) == count


# --- The orchestrator -------------------------------------------------------------------------------------
# It imports the test kit where it uses it: the driver imports nothing of this tree but this file.


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def baseline_checkout(revision, workdir):
    """The baseline revision checked out into a temporary git worktree (as bench/checkout.py does)."""
    path = workdir / "baseline-tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), revision], cwd=ROOT, check=True, capture_output=True
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)


def flush_redis():
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


def count_instructions(tree, env, out_file, mode, count, variant):
    """Run the driver under callgrind; the instructions it executed, start to exit."""
    flush_redis()  # every run starts from the same cache: empty
    command = [sys.executable, str(Path(__file__).resolve()), "--drive", mode, str(count), variant or ""]
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *command],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the driver ({mode}, {count}) failed:\n{result.stderr[-3000:]}")
    total = TOTAL.search(out_file.read_bytes())
    if total is None:
        raise RuntimeError(f"no instruction total in {out_file}")
    return int(total.group(1))


def measure(label, tree, variant, database, args, workdir):
    """One column of the table: a fresh database migrated by `tree`, four callgrind runs."""
    from testkit.database import ScratchDatabase
    from testkit.processes import manage, shop_environment

    slug = re.sub(r"\W", "_", label)
    folder = workdir / database / slug
    folder.mkdir(parents=True)
    db = ScratchDatabase(
        None if database == "sqlite" else f"{args.postgres}/myshop_instr_{slug}", folder, marker="instr"
    )
    db.create()
    try:
        env = shop_environment(
            database=db.url,
            broker="amqp://guest:guest@127.0.0.1:1//",  # never connected to: the publish is stubbed
            CACHE_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
            CONN_MAX_AGE=60,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="WARNING",
            ALLOWED_HOSTS="testserver",
            PYTHONHASHSEED=0,  # the same dict and set layouts in every run
        )
        manage(env, "migrate", "--noinput", cwd=tree)
        manage(env, "load_demo_catalog", cwd=tree)
        stock = "from shop.models import Product; Product.objects.update(stock=10**9, available=True)"
        manage(env, "shell", "-c", stock, cwd=tree)
        counts = {}
        # The web runs leave warm + (warm + orders) confirmation emails pending, for the email runs.
        for mode in ("web", "email"):
            for count in (args.warm, args.warm + args.orders):
                counts[mode, count] = count_instructions(
                    tree, env, folder / f"callgrind.{mode}.{count}", mode, count, variant
                )
                log(f"{database}, {label}: {mode} {count}: {counts[mode, count]:,} instructions")
    finally:
        db.drop()
    web, email = (
        (counts[mode, args.warm + args.orders] - counts[mode, args.warm]) / args.orders for mode in ("web", "email")
    )
    return {
        "web_per_order": web,
        "worker_per_email": email,
        "total_per_order": web + email,
        "runs": {f"{mode} {count}": total for (mode, count), total in counts.items()},
    }


ROWS = (
    ("web per order", "web_per_order"),
    ("worker per email", "worker_per_email"),
    ("total per order", "total_per_order"),
)


def ratios(columns, variants):
    """{row key: {"tree/base": ..., "<variant>/tree": ...}}: this tree against the baseline, each variant
    against this tree (above 1: what this tree saves by not being the variant)."""
    return {
        key: {
            "tree/base": columns["this tree"][key] / columns["baseline"][key],
            **{f"{variant}/tree": columns[variant][key] / columns["this tree"][key] for variant in variants},
        }
        for _, key in ROWS
    }


def print_table(report):
    print(
        f"\ninstructions, millions (callgrind, the shop's process in user space): this tree vs baseline "
        f"{report['baseline']}, runs of {report['warm'] + report['orders']} minus {report['warm']} orders/emails\n"
    )
    for database, result in report["databases"].items():
        columns = list(result["columns"])
        names = list(result["ratios"][ROWS[0][1]])
        print(f"{database:<20}" + "".join(f"{name:>{max(12, len(name) + 2)}}" for name in columns + names))
        for title, key in ROWS:
            values = [result["columns"][column][key] / 1e6 for column in columns]
            shares = [result["ratios"][key][name] for name in names]
            print(
                f"  {title:<18}"
                + "".join(f"{value:>{max(12, len(name) + 2)}.2f}" for name, value in zip(columns, values))
                + "".join(f"{share:>{max(12, len(name) + 2)}.3f}" for name, share in zip(names, shares))
            )
        print()


def main():
    if sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], int(sys.argv[3]), sys.argv[4] or None)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision (default: %(default)s)")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="the PostgreSQL server for --database postgresql (databases myshop_instr_*)",
    )
    parser.add_argument("--orders", type=int, default=40, help="orders and emails counted (default: %(default)s)")
    parser.add_argument(
        "--warm", type=int, default=10, help="orders and emails of the start-up run (default: %(default)s)"
    )
    parser.add_argument(
        "--variant", action="append", default=[], choices=sorted(VARIANTS), help="also this tree with this change"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-instructions.json")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    sys.path.insert(0, str(ROOT))

    began = time.monotonic()
    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="myshop-instructions-"))
    results = {}
    try:
        with baseline_checkout(revision, workdir) as baseline:
            for database in ["postgresql", "sqlite"] if args.database == "both" else [args.database]:
                trees = [("baseline", baseline, None), ("this tree", ROOT, None)]
                trees += [(variant, ROOT, variant) for variant in args.variant]
                columns = {
                    label: measure(label, tree, variant, database, args, workdir) for label, tree, variant in trees
                }
                results[database] = {"columns": columns, "ratios": ratios(columns, args.variant)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "baseline": revision,
        "orders": args.orders,
        "warm": args.warm,
        "variants": args.variant,
        "seconds": round(time.monotonic() - began),
        "databases": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
