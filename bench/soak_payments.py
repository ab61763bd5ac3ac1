#!/usr/bin/env python
"""Soak of the payment path: N orders placed and paid while workers are killed in the middle of rendering
invoices; then every order must be paid, invoiced once, its invoice emailed once, the numbers gapless.

    .venv/bin/python bench/soak_payments.py                    # 100 orders, a fresh SQLite database
    .venv/bin/python bench/soak_payments.py --orders 30 --kills 2
    .venv/bin/python bench/soak_payments.py --database-url postgres://postgres@127.0.0.1:5432/myshop_soak

Everything is real and private (testkit): a RabbitMQ node of its own, an SMTP server recording arrivals,
gunicorn, two Celery workers (one runs beat), all with the production defaults of every timing (the offline
provider's 3 s confirmation, the 30 s claim lease, the sweep, retry backoff). Shopper threads place and pay
the orders with the offline provider (the "Pay" button, then "Approve" on the provider's page) over
--duration seconds; the worker sends each provider webhook to the web server, which marks the order paid and
numbers its invoice; the worker renders the PDF and emails it. Meanwhile a chaos thread watches the workers'
logs and, --kills times, SIGKILLs the worker whose log has just said "rendering invoice" (its whole process
group, as an OOM killer would), starting a replacement 2 s later.

It reports, as a table and JSON (--json): placed / paid / invoiced / emailed once / duplicates / lost (target
N / N / N / N / 0 / 0), whether the invoice numbers are 1..N without a gap, whether every email carries a PDF
whose text (pdftotext) shows its number and the order's total, and for each kill whether it landed mid-render
and how long until that invoice's email arrived. Exit 0 iff all of that holds.
"""

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soakrun import add_common_arguments, run  # noqa: E402
from testkit.database import ScratchDatabase  # noqa: E402
from testkit.processes import manage, shop_environment, start_gunicorn, start_worker  # noqa: E402
from testkit.rabbit import RabbitNode  # noqa: E402
from testkit.shopper import Shopper, paced, placed_order_number  # noqa: E402
from testkit.smtp import SmtpSink  # noqa: E402
from testkit.stats import summary  # noqa: E402
from testkit.waiting import wait_until  # noqa: E402

FINAL = ("sent", "unconfirmed", "failed")
PREPARE = (
    "from shop.models import Product; Product.objects.update(stock=10**9, available=True); "
    "print(list(Product.objects.values_list('id', flat=True)))"
)
RENDERING = re.compile(r"order (\d+): rendering invoice (\S+)")


def log(message):
    print(f"[soak-payments {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class PaymentSoak:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.sink = SmtpSink().start()
        self.node = RabbitNode().start()
        self.db = ScratchDatabase(args.database_url, workdir, marker="soak").create()
        self.env = shop_environment(
            database=self.db.url,
            broker=self.node.url,
            smtp_port=self.sink.port,
            EMAIL_TIMEOUT=5,
            PRIVATE_MEDIA_ROOT=workdir / "private",
            CELERY_BEAT_SCHEDULE_FILENAME=workdir / "beat-schedule",
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "load_demo_catalog")
        self.products = json.loads(manage(self.env, "shell", "-c", PREPARE).strip().splitlines()[-1])
        self.web = start_gunicorn(self.env, workdir, workers=2)
        self.env["SHOP_SITE_URL"] = self.web.base_url  # where the offline provider posts its webhooks
        self.workers = [
            start_worker(self.env, workdir, name="w1", beat=True),
            start_worker(self.env, workdir, name="w2"),
        ]
        self.lock = threading.Lock()
        self.shoppers, self.events, self.kills = [], [], []
        self.started = time.monotonic()
        self.chaos_error = None

    def event(self, what):
        self.events.append((round(time.monotonic() - self.started, 2), what))
        log(what)

    # --- shoppers ---------------------------------------------------------------------------------------
    def shop(self, index):
        rng = random.Random(index)
        shopper = Shopper(self.web.base_url)
        for product in rng.sample(self.products, rng.randint(1, 3)):
            shopper.add_to_cart(product, rng.randint(1, 2))
        customer = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"pay+{index}@example.com",
            "address": f"{index} Soak Street",
            "postal_code": "10115",
            "city": "Berlin",
        }
        outcome = {"index": index, "placed": False, "paid_at_provider": False, "seconds": None}
        try:
            status, _, body, seconds = shopper.checkout(customer)
            outcome.update(placed=placed_order_number(status, body) is not None, seconds=seconds)
            if outcome["placed"]:
                shopper.pay_offline()
                outcome["paid_at_provider"] = True
        except (OSError, RuntimeError) as error:
            outcome["error"] = f"{type(error).__name__}: {error}"
        with self.lock:
            self.shoppers.append(outcome)

    def drive(self):
        return paced(
            self.shop, self.args.orders, duration=self.args.duration, threads=self.args.shoppers, started=self.started
        )

    # --- faults -----------------------------------------------------------------------------------------
    def kill_while_rendering(self):
        """SIGKILL the next worker whose log says it has started rendering an invoice; replace it."""
        seen = {worker.name: len(worker.log()) for worker in self.workers}

        def rendering():
            for worker in list(self.workers):
                text = worker.log()
                found = RENDERING.search(text, seen.get(worker.name, 0))
                if found:
                    return worker, found
            return None

        victim, found = wait_until(rendering, timeout=120, interval=0.01, what="a worker rendering an invoice")
        victim.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        order_id, number = int(found.group(1)), found.group(2)
        after = victim.log()[found.end() :]
        mid_render = not re.search(rf"order {order_id}: invoice \S+ rendered", after)
        self.event(
            f"SIGKILL {victim.name} rendering invoice {number} of order {order_id}"
            f" ({'mid-render' if mid_render else 'too late: already rendered'})"
        )
        self.workers.remove(victim)
        time.sleep(2)  # a supervisor restarts it a little later
        beat = "-B" in victim.popen.args
        self.workers.append(start_worker(self.env, self.workdir, name=f"w{len(self.kills) + 3}", beat=beat))
        self.kills.append(
            {
                "order": order_id,
                "number": number,
                "worker": victim.name,
                "mid_render": mid_render,
                "killed_at": killed_at,
            }
        )

    def chaos(self):
        try:
            for kill in range(self.args.kills):
                # Spread over the run: wait until that share of the orders has been placed.
                share = (kill + 1) / (self.args.kills + 1)
                wait_until(
                    lambda share=share: len(self.shoppers) >= share * self.args.orders,
                    timeout=600,
                    interval=0.1,
                    what=f"{share:.0%} of the orders",
                )
                self.kill_while_rendering()
        except Exception:
            self.chaos_error = traceback.format_exc()
            log(f"chaos failed:\n{self.chaos_error}")

    # --- the end ----------------------------------------------------------------------------------------
    def settled(self):
        paid = self.db.query("SELECT COUNT(*) FROM orders_order WHERE status = 'paid'")[0][0]
        invoices = self.db.query("SELECT state FROM orders_orderemail WHERE kind = 'invoice'")
        placed = sum(1 for shopper in self.shoppers if shopper["paid_at_provider"])
        return (
            paid >= placed
            and len(invoices) >= placed
            and all(state in FINAL for (state,) in invoices)
            and self.node.queue_depth() == 0
        )

    def report(self):
        orders = {
            email: (order_id, Decimal(total), status)
            for email, order_id, total, status in self.db.query("SELECT email, id, total, status FROM orders_order")
        }
        invoices = {
            order_id: (year, sequence)
            for order_id, year, sequence in self.db.query("SELECT order_id, year, sequence FROM payments_invoice")
        }
        placed = [orders[f"pay+{s['index']}@example.com"][0] for s in self.shoppers if s["placed"]]
        totals = {order_id: total for order_id, total, _ in orders.values()}
        paid = [order_id for order_id, _, status in orders.values() if status == "paid"]
        copies = {}
        for order_id, arrived in self.sink.received("invoice"):
            copies.setdefault(order_id, []).append(arrived)
        years = {}
        for year, sequence in invoices.values():
            years.setdefault(year, []).append(sequence)
        gapless = all(sorted(sequences) == list(range(1, len(sequences) + 1)) for sequences in years.values())
        pdf_problems = []
        for order_id in placed:
            for message in self.sink.messages_of("invoice", order_id):
                problem = pdf_problem(message, invoices.get(order_id), totals[order_id])
                if problem:
                    pdf_problems.append(f"order {order_id}: {problem}")
        kills = []
        for kill in self.kills:
            arrivals = [t for t in copies.get(kill["order"], []) if t > kill["killed_at"]]
            kills.append(
                {
                    **{k: v for k, v in kill.items() if k != "killed_at"},
                    "kill_to_email_s": round(arrivals[0] - kill["killed_at"], 1) if arrivals else None,
                }
            )
        attempts = self.db.query(
            "SELECT state, attempts, COUNT(*) FROM orders_orderemail WHERE kind = 'invoice' "
            "GROUP BY state, attempts ORDER BY state, attempts"
        )
        result = {
            "orders": self.args.orders,
            "database": self.db.kind,
            "placed": len(placed),
            "paid": sum(1 for order_id in placed if order_id in paid),
            "invoiced": sum(1 for order_id in placed if order_id in invoices),
            "emailed_once": sum(1 for order_id in placed if len(copies.get(order_id, [])) == 1),
            "duplicates": sum(1 for order_id in placed if len(copies.get(order_id, [])) > 1),
            "lost": sum(1 for order_id in placed if not copies.get(order_id)),
            "numbers": {year: [min(sequences), max(sequences), len(sequences)] for year, sequences in years.items()},
            "gapless": gapless,
            "pdf_problems": pdf_problems,
            "invoice_email_attempts": [list(row) for row in attempts],
            "kills": kills,
            "checkout": summary([s["seconds"] for s in self.shoppers if s["seconds"] is not None]),
            "shopper_errors": [s["error"] for s in self.shoppers if "error" in s],
            "chaos_error": self.chaos_error,
            "events": self.events,
        }
        n = self.args.orders
        result["ok"] = (
            result["placed"] == result["paid"] == result["invoiced"] == result["emailed_once"] == n
            and result["duplicates"] == 0
            and result["lost"] == 0
            and gapless
            and not pdf_problems
            and len(kills) == self.args.kills
            and all(k["kill_to_email_s"] is not None for k in kills)
            and not self.chaos_error
        )
        return result

    def close(self):
        for process in [*self.workers, self.web]:
            process.stop()
        self.node.stop()
        self.sink.stop()
        self.db.drop()


def pdf_problem(message, invoice, total):
    """What is wrong with an invoice email's PDF (None if it shows its number and the order's total)."""
    if invoice is None:
        return "an invoice email for an order without an invoice"
    number = f"{invoice[0]}-{invoice[1]:06d}"
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    pdfs = [part for part in parsed.iter_attachments() if part.get_content_type() == "application/pdf"]
    if len(pdfs) != 1 or pdfs[0].get_filename() != f"invoice-{number}.pdf":
        return f"expected one attachment invoice-{number}.pdf, got {[p.get_filename() for p in pdfs]}"
    text = " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=pdfs[0].get_content(), capture_output=True, check=True)
        .stdout.decode()
        .split()
    )
    if f"Invoice {number}" not in text or f"€{total:,.2f}" not in text:
        return f"the PDF lacks its number {number} or its total €{total:,.2f}"
    return None


def print_table(result):
    n = result["orders"]
    print(f"\nsoak-payments: {n} orders on {result['database']}, production timings")
    print(
        f"  placed / paid / invoiced / emailed once / duplicates / lost: {result['placed']} / {result['paid']} / "
        f"{result['invoiced']} / {result['emailed_once']} / {result['duplicates']} / {result['lost']}    "
        f"(target {n} / {n} / {n} / {n} / 0 / 0)"
    )
    print(f"  invoice numbers (year: first, last, count): {result['numbers']}; gapless: {result['gapless']}")
    print(
        f"  PDFs showing their number and total: {result['placed'] - len(result['pdf_problems'])} of {result['placed']}"
    )
    print(f"  invoice emails by (state, attempts): {result['invoice_email_attempts']}")
    for kill in result["kills"]:
        print(
            f"  {kill['worker']} killed {'mid-render' if kill['mid_render'] else 'after rendering'} of invoice "
            f"{kill['number']} (order {kill['order']}): emailed {kill['kill_to_email_s']} s later"
        )
    print(f"  checkout p50 / p95: {result['checkout']['p50']} / {result['checkout']['p95']} ms")
    print(f"  {'OK' if result['ok'] else 'NOT OK'}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, orders=100, json_name="soak-payments.json")
    parser.add_argument("--kills", type=int, default=3, help="workers killed mid-render, spread over the run")
    args = parser.parse_args()
    return run(
        PaymentSoak,
        args,
        prefix="myshop-soak-payments-",
        log=log,
        placed="all orders placed and paid at the provider",
        settling="invoice email",
        print_table=print_table,
    )


if __name__ == "__main__":
    sys.exit(main())
