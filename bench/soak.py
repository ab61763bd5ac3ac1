#!/usr/bin/env python
"""Soak: N orders through the web while the order emails meet every fault the outbox promises to survive.

    .venv/bin/python bench/soak.py                      # 200 orders, a fresh SQLite database
    .venv/bin/python bench/soak.py --orders 60          # a quicker run
    .venv/bin/python bench/soak.py --database-url postgres://postgres@127.0.0.1:5432/myshop_soak

Everything is real and private (testkit): a RabbitMQ node of its own, an SMTP server recording arrivals,
gunicorn, and two Celery workers (one runs beat), all with the production defaults of every timing (claim
lease, sweep, retry backoff, attempts); only EMAIL_TIMEOUT is 5 s so that the late reply below is quick.
Shopper threads place the orders over --duration seconds while a chaos thread, timed by progress, does:

    20 %  the broker goes down (stop_app) for 5 s
    35 %  the mail server stores the next email and answers its final "." after the sender's timeout
    50 %  the worker sending an email is SIGKILLed mid-conversation; a replacement starts 2 s later
    65 %  the same email's worker is killed twice in a row; a third worker sends it
    80 %  one extra order (not among the N) whose sending kills the worker process outright

It then waits until every email has settled and reports, as a table and JSON (--json):
placed / emailed / duplicates / lost (target N / N / 0 / 0; the late-reply email counts as emailed once
and must end "unconfirmed"), the time from each kill to the email, and the crashing order's end
("failed" after ORDER_EMAIL_MAX_ATTEMPTS attempts, never delivered). Exit 0 iff all of that holds.
"""

import argparse
import json
import random
import signal
import sys
import threading
import time
import traceback
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

EMAIL_TIMEOUT = 5
CRASHING = "crash+soak@example.com"
FINAL = ("sent", "unconfirmed", "failed")
PREPARE = (
    "from shop.models import Product; Product.objects.update(stock=10**9, available=True); "
    "print(list(Product.objects.values_list('id', flat=True)))"
)


def log(message):
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Soak:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.sink = SmtpSink().start()
        self.node = RabbitNode().start()
        self.db = ScratchDatabase(args.database_url, workdir, marker="soak").create()
        self.env = shop_environment(
            database=self.db.url,
            broker=self.node.url,
            smtp_port=self.sink.port,
            EMAIL_TIMEOUT=EMAIL_TIMEOUT,
            EMAIL_BACKEND="testkit.crash_backend.CrashingBackend",
            CRASH_DELEGATE_BACKEND="orders.mail.SMTPBackend",
            CELERY_BEAT_SCHEDULE_FILENAME=workdir / "beat-schedule",
            LOG_LEVEL="INFO",
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "load_demo_catalog")
        self.products = json.loads(manage(self.env, "shell", "-c", PREPARE).strip().splitlines()[-1])
        self.web = start_gunicorn(self.env, workdir, workers=2)
        self.workers = [
            start_worker(self.env, workdir, name="w1", beat=True),
            start_worker(self.env, workdir, name="w2"),
        ]
        self.lock = threading.Condition()
        self.placed, self.checkouts, self.events, self.kills = 0, [], [], []
        self.started = time.monotonic()

    # --- shoppers ---------------------------------------------------------------------------------------
    def shop(self, index):
        rng = random.Random(index)
        shopper = Shopper(self.web.base_url)
        for product in rng.sample(self.products, rng.randint(1, 3)):
            shopper.add_to_cart(product, rng.randint(1, 2))
        customer = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"soak+{index}@example.com",
            "address": f"{index} Soak Street",
            "postal_code": "10115",
            "city": "Berlin",
        }
        try:
            status, _, body, seconds = shopper.checkout(customer)
        except OSError as error:
            status, body, seconds = f"error {type(error).__name__}", "", None
        with self.lock:
            self.checkouts.append(
                {
                    "index": index,
                    "status": status,
                    "seconds": seconds,
                    "placed": placed_order_number(status, body) is not None,
                }
            )
            self.placed += self.checkouts[-1]["placed"]
            self.lock.notify_all()

    def drive(self):
        return paced(
            self.shop, self.args.orders, duration=self.args.duration, threads=self.args.shoppers, started=self.started
        )

    # --- faults -----------------------------------------------------------------------------------------
    def event(self, what):
        self.events.append((round(time.monotonic() - self.started, 2), what))
        log(what)

    def at(self, share):
        with self.lock:
            self.lock.wait_for(
                lambda: self.placed >= share * self.args.orders or len(self.checkouts) >= self.args.orders
            )

    def order_of(self, address):
        rows = self.db.query("SELECT id FROM orders_order WHERE email = %s ORDER BY id", [address])
        return rows[-1][0] if rows else None

    def holder_of(self, order_id):
        """The worker whose process holds the claim on `order_id`'s confirmation."""

        def holder():
            rows = self.db.query(
                "SELECT claimed_by FROM orders_orderemail WHERE order_id = %s AND state = 'sending'", [order_id]
            )
            pid = int(rows[0][0].split()[1].rsplit(":", 1)[1]) if rows and rows[0][0] else None
            return next((worker for worker in self.workers if pid and worker.alive() and worker.owns(pid)), None)

        return wait_until(holder, timeout=10, what=f"the worker holding order {order_id}'s claim")

    def kill_mid_email(self, only=None):
        """Hold the next conversation (to `only`, if given) at RCPT, SIGKILL the worker sending it, replace it."""
        self.sink.stalled.clear()
        self.sink.release.clear()
        with self.sink.lock:
            self.sink.stall_next, self.sink.stall_only = 1, only
        wait_until(self.sink.stalled.is_set, timeout=120, what="a worker mid-email")
        address = self.sink.stalled_for[-1]
        order_id = self.order_of(address)
        victim = self.holder_of(order_id)
        victim.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        self.sink.release.set()
        self.event(f"SIGKILL {victim.name} sending order {order_id}'s confirmation")
        self.workers.remove(victim)
        time.sleep(2)  # the replacement comes a little later, as a supervisor would restart it
        beat = "-B" in victim.popen.args  # beat dies with its worker: the replacement runs it again
        self.workers.append(start_worker(self.env, self.workdir, name=f"w{len(self.kills) + 3}", beat=beat))
        self.kills.append({"order": order_id, "killed_at": killed_at, "worker": victim.name})
        return address

    def chaos(self):
        try:
            self.at(0.20)
            self.event("broker down (stop_app)")
            self.node.stop_app()
            time.sleep(5)
            self.node.start_app()
            self.event("broker back (start_app)")

            self.at(0.35)
            with self.sink.lock:
                self.sink.late_reply, self.sink.reply_delay_next = EMAIL_TIMEOUT + 3, 1
            self.late_from = len(self.sink.messages)
            self.event("the next email's final '.' is answered after the sender's timeout")

            self.at(0.50)
            self.kill_mid_email()

            self.at(0.65)
            address = self.kill_mid_email()
            self.kill_mid_email(only=address)

            self.at(0.80)
            shopper = Shopper(self.web.base_url)
            shopper.add_to_cart(self.products[0], 1)
            shopper.checkout(
                {
                    "first_name": "Crash",
                    "last_name": "Test",
                    "email": CRASHING,
                    "address": "1 Crash Road",
                    "postal_code": "10115",
                    "city": "Berlin",
                }
            )
            self.event("placed an order whose sending kills the worker")
        except Exception:
            self.chaos_error = traceback.format_exc()
            log(f"chaos failed:\n{self.chaos_error}")

    # --- the end ----------------------------------------------------------------------------------------
    def settled(self):
        rows = self.db.query("SELECT state, COUNT(*) FROM orders_orderemail GROUP BY state")
        return all(state in FINAL for state, _ in rows) and self.node.queue_depth() == 0

    def report(self):
        orders = dict(self.db.query("SELECT email, id FROM orders_order"))
        states = dict(
            self.db.query("SELECT o.email, e.state FROM orders_orderemail e JOIN orders_order o ON o.id = e.order_id")
        )
        received = self.sink.received()
        copies = {}
        for order_id, arrived in received:
            copies.setdefault(order_id, []).append(arrived)
        placed = [orders[f"soak+{c['index']}@example.com"] for c in self.checkouts if c["placed"]]
        crashing = orders.get(CRASHING)
        crash_row = (
            self.db.query("SELECT state, attempts, last_error FROM orders_orderemail WHERE order_id = %s", [crashing])
            if crashing
            else []
        )
        late = (
            [order_id for order_id, _ in received[self.late_from : self.late_from + 1]]
            if hasattr(self, "late_from")
            else []
        )
        recoveries = []
        for kill in self.kills:
            arrivals = [t for t in copies.get(kill["order"], []) if t > kill["killed_at"]]
            recoveries.append(
                {
                    "order": kill["order"],
                    "worker": kill["worker"],
                    "kill_to_email_s": round(arrivals[0] - kill["killed_at"], 1) if arrivals else None,
                }
            )
        result = {
            "orders": self.args.orders,
            "database": self.db.kind,
            "placed": len(placed),
            "emailed": sum(1 for order_id in placed if copies.get(order_id)),
            "duplicates": sum(1 for order_id in placed if len(copies.get(order_id, [])) > 1),
            "lost": sum(1 for order_id in placed if not copies.get(order_id)),
            "states": {state: sum(1 for value in states.values() if value == state) for state in set(states.values())},
            "late_reply_order": late[0] if late else None,
            "late_reply_state": next(
                (states[email] for email, order_id in orders.items() if late and order_id == late[0]), None
            ),
            "kills": recoveries,
            "crashing_order": dict(zip(("state", "attempts", "last_error"), crash_row[0])) if crash_row else None,
            "crashing_order_delivered": bool(copies.get(crashing)),
            "checkout": summary([c["seconds"] for c in self.checkouts if c["seconds"] is not None]),
            "events": self.events,
        }
        result["ok"] = (
            result["placed"] == result["emailed"] == self.args.orders
            and result["duplicates"] == 0
            and result["lost"] == 0
            and result["late_reply_state"] == "unconfirmed"
            and all(kill["kill_to_email_s"] is not None for kill in recoveries)
            and result["crashing_order"]
            and result["crashing_order"]["state"] == "failed"
            and not result["crashing_order_delivered"]
        )
        return result

    def close(self):
        for process in [*self.workers, self.web]:
            process.stop()
        self.node.stop()
        self.sink.stop()
        self.db.drop()


def print_table(result):
    n = result["orders"]
    print(f"\nsoak: {n} orders on {result['database']}, production timings")
    print(
        f"  placed / emailed / duplicates / lost: {result['placed']} / {result['emailed']} / "
        f"{result['duplicates']} / {result['lost']}    (target {n} / {n} / 0 / 0)"
    )
    print(f"  email states: {result['states']}")
    print(
        f"  late reply after DATA: order {result['late_reply_order']} -> {result['late_reply_state']} (target "
        "unconfirmed, one copy)"
    )
    for kill in result["kills"]:
        print(f"  {kill['worker']} killed sending order {kill['order']}: email {kill['kill_to_email_s']} s later")
    crash = result["crashing_order"] or {}
    print(
        f"  crashing email: {crash.get('state')} after {crash.get('attempts')} attempts, delivered: "
        f"{result['crashing_order_delivered']}"
    )
    checkout = result["checkout"]
    print(f"  checkout p50 / p95: {checkout['p50']} / {checkout['p95']} ms")
    print(f"  {'OK' if result['ok'] else 'NOT OK'}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, orders=200, json_name="soak.json")
    args = parser.parse_args()
    return run(
        Soak,
        args,
        prefix="myshop-soak-",
        log=log,
        placed="all checkouts done",
        settling="email",
        print_table=print_table,
    )


if __name__ == "__main__":
    sys.exit(main())
