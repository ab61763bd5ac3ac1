#!/usr/bin/env python
"""Chaos soak: thousands of orders, paid and unpaid, while a seeded schedule injects every fault we know.

    .venv/bin/python bench/chaos.py --short                # 500 orders at 2.5 a second, about 5 minutes
    .venv/bin/python bench/chaos.py --short --seed 7       # the same schedule again
    .venv/bin/python bench/chaos.py                        # 10,000 orders at 5 a second: about 40 minutes
    .venv/bin/python bench/chaos.py --orders 2000 --rate 2 --fault-every 20 --keep

Everything runs privately (testkit), in the production configuration: a three-node RabbitMQ cluster
(CELERY_BROKER_URL lists the three nodes), a PostgreSQL server (DATABASE_URL) and a Redis server (CACHE_URL:
sessions in Redis) of its own, gunicorn with 2 workers, 2 Celery worker processes (the first runs beat), the
offline payment provider, and an SMTP server recording what it receives. The shared RabbitMQ, PostgreSQL and
Redis are never touched. Shortened timings, so that the faults' effects play out within the run:

    ORDER_EMAIL_CLAIM_SECONDS          15 (30)    a dead worker's email waits out half the lease
    ORDER_EMAIL_SWEEP_SECONDS           5 (30)
    ORDER_EMAIL_REQUEUE_AFTER_SECONDS  60 (900)   a message lost with a broker node is published again sooner
    ORDER_EMAIL_RETRY_BASE / MAX        2 / 60 (10 / 600)
    EMAIL_TIMEOUT                       5 (60)    the late reply below takes seconds, not minutes
    PAYMENT_OFFLINE_CONFIRM_SECONDS     1 (3)
    PAYMENT_TIMEOUT / EXPIRY_CHECK    180 / 15 (1800 / 60)   unpaid orders expire during the run

Shopper threads place --orders orders at --rate a second. Each order's plan is drawn from --seed: 1 to 3
products; 35 % approve the payment on the offline provider's page, 10 % decline, the rest never pay (their
orders expire). A shopper behaves as a person at a browser: on a 503 (or no answer) it sends the same request
again a second later; when its cart is gone (Redis restarted empty) it fills it again; it gives up on an
order after 5 minutes.

A chaos thread runs a schedule drawn from --seed, printed at the start (the same seed and options give the
same schedule): a fault every --fault-every seconds (20; 15 with --short) on average from the start, the kinds
in shuffled rounds, so that every kind comes back again and again over the whole run:

    worker-kill            SIGKILL a worker process (its process group) at a random moment
    worker-kill-mid-email  SIGKILL the worker whose email the SMTP server is holding at RCPT
    worker-kill-mid-pdf    SIGKILL the worker whose log says it is rendering an invoice
                           (each time a replacement starts 1-5 s later, as an orchestrator would; with beat
                           if the dead one had it)
    rabbit-node            SIGKILL one of the three RabbitMQ nodes; start it again 10-30 s later
    smtp-refuse            the SMTP server answers 451 to the next 2-6 conversations
    smtp-stall             the SMTP server holds the next conversation at RCPT for 2-10 s
    smtp-late-reply        the SMTP server stores the next message and answers its final "." after the
                           sender's timeout: that email must end "unconfirmed", one copy
    postgres-restart       PostgreSQL stopped (fast) and started again 1-5 s later
    redis-restart          Redis SIGKILLed and started again, empty, 1-5 s later

Faults run one after another; one still running at its successor's time delays it. Then the soak waits for
every email to settle and reports, as a table and JSON (--json, default var/chaos.json): placed / emailed /
invoiced / duplicates / lost (target N / N / paid / 0 / 0; lost = a thank-you page seen and no confirmation,
or a paid order without its invoice email), the web's answers (no 5xx but 503, every 503 with Retry-After,
every request answered), and the longest time from a fault clearing to an email it held up, per kind (target
at most 5 minutes; an invoice is owed from the provider's confirmation of the payment, so a late webhook
counts too). Exit 0 iff every target holds, 1 otherwise, 2 if the soak itself failed, 130 when
interrupted. Everything it started is stopped on the way out, even on Ctrl-C or SIGTERM; the temporary
directory (every process's log) is kept when a target fails, or with --keep.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
from collections import Counter
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.soak_payments import pdf_problem  # noqa: E402
from testkit.cluster import RabbitCluster  # noqa: E402
from testkit.postgres import PostgresNode  # noqa: E402
from testkit.processes import manage, shop_environment, start_gunicorn, start_worker  # noqa: E402
from testkit.redis import RedisServer  # noqa: E402
from testkit.shopper import Shopper, paced, placed_order_number  # noqa: E402
from testkit.smtp import ORDER_EMAIL, TEMPLATES, SmtpSink  # noqa: E402
from testkit.stats import summary  # noqa: E402
from testkit.waiting import wait_until  # noqa: E402

TASK_QUEUE = "myshop"
EMAIL_TIMEOUT = 5
LATE_REPLY = EMAIL_TIMEOUT + 3  # the late reply comes after the sender has given up
CONFIRM_SECONDS = 1
SHORTENED = {
    "ORDER_EMAIL_CLAIM_SECONDS": 15,
    "ORDER_EMAIL_SWEEP_SECONDS": 5,
    "ORDER_EMAIL_REQUEUE_AFTER_SECONDS": 60,
    "ORDER_EMAIL_RETRY_BASE_SECONDS": 2,
    "ORDER_EMAIL_RETRY_MAX_SECONDS": 60,
    "EMAIL_TIMEOUT": EMAIL_TIMEOUT,
    "PAYMENT_OFFLINE_CONFIRM_SECONDS": CONFIRM_SECONDS,
    "PAYMENT_TIMEOUT": 180,
    "PAYMENT_EXPIRY_CHECK_SECONDS": 15,
}
PATIENCE = 300  # seconds a shopper keeps trying one order, or one request
EMAIL_TARGET = 300  # seconds from a fault clearing to every email it held up
PAYING = (("approve", 0.35), ("decline", 0.10))  # the rest never pay
FAULTS = (
    "worker-kill",
    "worker-kill-mid-email",
    "worker-kill-mid-pdf",
    "rabbit-node",
    "smtp-refuse",
    "smtp-stall",
    "smtp-late-reply",
    "postgres-restart",
    "redis-restart",
)
KIND_OF_TEMPLATE = {template: kind for kind, template in TEMPLATES.items()}
CUSTOMER = {"first_name": "Ada", "last_name": "Lovelace", "postal_code": "10115", "city": "Berlin"}
PREPARE = (
    "from shop.models import Product; Product.objects.update(stock=10**9, available=True); "
    "print('CHAOS_PRODUCTS=' + ','.join(map(str, Product.objects.order_by('id').values_list('id', flat=True))))"
)
CHECKOUT_KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]+)"')
PAY_FORM = re.compile(r'action="(?:/[a-z]{2})?/orders/([0-9a-f-]{36})/pay/"')
RENDERING = re.compile(r"order (\d+): rendering invoice (\S+)")


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C."""


# --- The seeded plan: the schedule of faults and every order's plan ---------------------------------------


def draw_schedule(rng, duration, every):
    """[{"at": seconds from the start, "kind", **parameters}]: the kinds in shuffled rounds, spread evenly
    (with jitter) from 10 s in to 85 % of the placing, at least one of each kind. The last 15 % absorb the
    faults' own length (they run one after another), so that those needing traffic still find some."""
    count = max(len(FAULTS), int(duration // every))
    span = max(0.85 * duration - 10, 1.0)
    kinds = []
    while len(kinds) < count:
        kinds += rng.sample(FAULTS, len(FAULTS))
    return [
        {"at": round(10 + (number + rng.uniform(0, 0.8)) * span / count, 1), "kind": kind, **draw_parameters(rng, kind)}
        for number, kind in enumerate(kinds[:count])
    ]


def draw_parameters(rng, kind):
    if kind == "worker-kill":  # which worker: a share of the list of workers alive then
        return {"victim": round(rng.random(), 3), "replace_after": round(rng.uniform(1, 5), 1)}
    if kind.startswith("worker-kill"):
        return {"replace_after": round(rng.uniform(1, 5), 1)}
    if kind == "rabbit-node":
        return {"node": rng.randrange(3), "down_for": round(rng.uniform(10, 30), 1)}
    if kind == "smtp-refuse":
        return {"count": rng.randint(2, 6)}
    if kind == "smtp-stall":
        return {"hold": round(rng.uniform(2, 10), 1)}
    if kind in ("postgres-restart", "redis-restart"):
        return {"down_for": round(rng.uniform(1, 5), 1)}
    return {}


def draw_plans(rng, count, products):
    """Each order's products and quantities, and whether its shopper approves, declines or never pays."""
    plans = []
    for _ in range(count):
        items = [(product, rng.randint(1, 2)) for product in rng.sample(products, rng.randint(1, 3))]
        roll, decision = rng.random(), None
        for choice, share in PAYING:
            if roll < share:
                decision = choice
                break
            roll -= share
        plans.append({"items": items, "decision": decision})
    return plans


# --- The environment -------------------------------------------------------------------------------------


class Shop:
    """The shop and every service it uses, all private; `close` stops whatever was started, in reverse."""

    def __init__(self, workdir, workers):
        self.workdir, self.worker_count = workdir, workers
        self.stack = ExitStack()
        self.workers, self.started_workers = [], 0

    def start(self):
        log(f"working directory {self.workdir}; starting a three-node RabbitMQ cluster, PostgreSQL and Redis")
        self.sink = SmtpSink().start()
        self.stack.callback(self.sink.stop)
        self.cluster = RabbitCluster(prefix=f"myshop-chaos-{os.getpid()}-{random.randrange(10**6)}")
        self.stack.callback(self.cluster.stop)
        self.cluster.start()
        self.pg = PostgresNode()
        self.stack.callback(self.pg.destroy)
        self.pg.start()
        self.redis = RedisServer()
        self.stack.callback(self.redis.stop)
        self.redis.start()
        self.env = shop_environment(
            database=self.pg.create_database("myshop"),
            broker=self.cluster.url,
            smtp_port=self.sink.port,
            CACHE_URL=self.redis.url,
            CONN_MAX_AGE=60,
            PRIVATE_MEDIA_ROOT=self.workdir / "private",
            CELERY_BEAT_SCHEDULE_FILENAME=self.workdir / "beat-schedule",
            **SHORTENED,
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "load_demo_catalog")
        output = manage(self.env, "shell", "-c", PREPARE)
        self.products = [int(n) for n in output.split("CHAOS_PRODUCTS=", 1)[1].split()[0].split(",")]
        self.web = start_gunicorn(self.env, self.workdir, workers=2)
        self.stack.callback(self.web.stop)
        self.env["SHOP_SITE_URL"] = self.web.base_url  # where the offline provider's webhooks go
        self.stack.callback(self.stop_workers)
        for number in range(self.worker_count):
            self.add_worker(beat=number == 0)
        log(f"gunicorn at {self.web.base_url}, workers {[worker.name for worker in self.workers]}")
        return self

    def add_worker(self, beat):
        self.started_workers += 1
        worker = start_worker(self.env, self.workdir, name=f"w{self.started_workers}", beat=beat, timeout=180)
        self.workers.append(worker)
        return worker

    def stop_workers(self):
        for worker in self.workers:
            worker.stop()

    def query(self, sql, *params):
        return self.pg.query("myshop", sql, *params)

    def close(self):
        self.stack.close()


# --- Shoppers ----------------------------------------------------------------------------------------------


class RecordingShopper(Shopper):
    """A Shopper that tells `record(method, path, status, headers)` of every answer it gets."""

    def __init__(self, base_url, record):
        super().__init__(base_url)
        plain_open = self.opener.open

        def recording_open(request, timeout=None):
            try:
                response = plain_open(request, timeout=timeout)
            except urllib.error.HTTPError as error:  # every status but 2xx, redirects included
                record(request.get_method(), request.selector, error.code, error.headers)
                raise
            record(request.get_method(), request.selector, response.status, response.headers)
            return response

        self.opener.open = recording_open


class Shoppers:
    """Places the planned orders through the web, as people at browsers would; counts every answer."""

    def __init__(self, shop, plans, started, stop):
        self.base_url, self.plans, self.started, self.stop = shop.web.base_url, plans, started, stop
        self.results = [None] * len(plans)
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.server_errors, self.without_retry_after, self.unanswered = [], [], []

    def record(self, method, path, status, headers):
        at = round(time.monotonic() - self.started, 2)
        with self.lock:
            self.statuses[status] += 1
            if status >= 500 and status != 503:
                self.server_errors.append((at, method, path, status))
            elif status == 503 and not (headers.get("Retry-After") or "").isdigit():
                self.without_retry_after.append((at, method, path))

    def ask(self, shopper, method, path, form=None):
        """One request, sent again a second later while the answer is a 503 or none (for at most PATIENCE
        seconds): (status, location, body); status None if it never got an answer."""
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                return_value = shopper.request(method, path, form)
                if return_value[0] != 503:
                    return return_value
            except StopIteration:  # no CSRF cookie: the page that sets it answered 503
                return_value = (503, None, "")
            except OSError as error:  # refused, reset, timed out: counted (target none), and tried again
                with self.lock:
                    self.unanswered.append((round(time.monotonic() - self.started, 2), method, path, repr(error)))
                return_value = (None, None, "")
            if time.monotonic() > deadline or self.stop.wait(1):  # a person's pause before trying again
                return return_value

    def shop(self, index):
        plan = self.plans[index - 1]
        customer = {**CUSTOMER, "email": f"chaos+{index}@example.com", "address": f"{index} Chaos Street"}
        result = {"index": index, "decision": plan["decision"], "placed": False, "tries": 0, "problem": None}
        deadline = time.monotonic() + PATIENCE
        shopper = None
        while not result["placed"] and time.monotonic() < deadline:
            if result["tries"] and self.stop.wait(1):  # a person's pause before starting over
                break
            result["tries"] += 1
            shopper = RecordingShopper(self.base_url, self.record)
            self.place(shopper, plan, customer, result)
        if result["placed"] and plan["decision"]:
            self.pay(shopper, plan["decision"], result)
        with self.lock:
            self.results[index - 1] = result

    def place(self, shopper, plan, customer, result):
        """One try: fill the cart, open the checkout page, send its form (the same form again on a 503)."""
        for product, quantity in plan["items"]:
            status, _, _ = self.ask(shopper, "POST", f"{shopper.pages}/cart/add/{product}/", {"quantity": quantity})
            if status != 302:
                result["problem"] = f"adding to the cart answered {status}"
                return
        status, _, page = self.ask(shopper, "GET", f"{shopper.pages}/orders/create/")
        key = CHECKOUT_KEY.search(page) if status == 200 else None
        if key is None:  # sent to the cart page: the cart is gone with its session (Redis restarted)
            result["problem"] = f"the checkout page answered {status}"
            return
        started = time.monotonic()
        status, _, body = self.ask(
            shopper, "POST", f"{shopper.pages}/orders/create/", {**customer, "idempotency_key": key.group(1)}
        )
        number = placed_order_number(status, body)
        if number is None:
            result["problem"] = f"checkout answered {status}"
            return
        token = PAY_FORM.search(body)
        result.update(
            placed=True,
            number=number,
            token=token.group(1) if token else None,
            placed_at=time.monotonic(),
            seconds=time.monotonic() - started,
            problem=None,
        )

    def pay(self, shopper, decision, result):
        """Press "Pay" on the thank-you page, decide on the provider's page, then open the return page, which
        asks once more after the provider's confirmation time, as its script does."""
        if result["token"] is None:
            result["problem"] = "the thank-you page has no Pay button"
            return
        for _ in range(5):  # "the payment service is not answering": the shopper tries again
            status, provider_page, _ = self.ask(shopper, "POST", f"{shopper.pages}/orders/{result['token']}/pay/", {})
            if status == 302 and (provider_page or "").startswith(f"{shopper.pages}/payments/offline/"):
                break
            if self.stop.wait(1):
                return
        else:
            result["problem"] = f"Pay answered {status} {provider_page}"
            return
        status, back, _ = self.ask(shopper, "POST", provider_page, {"decision": decision})
        if status != 302 or not back:
            result["problem"] = f"the provider's page answered {status}"
            return
        result["decided"] = decision
        self.ask(shopper, "GET", back)
        if not self.stop.wait(CONFIRM_SECONDS + 0.5):
            self.ask(shopper, "GET", back.replace("/payment/?", "/payment/state/?"))

    def progress(self):
        with self.lock:
            done = [result for result in self.results if result is not None]
        return len(done), sum(result["placed"] for result in done)


# --- Faults ------------------------------------------------------------------------------------------------


class LogTails:
    """The lines the workers' logs gained since the last look (read from where that look stopped)."""

    def __init__(self):
        self.offsets = {}

    def skip(self, workers):
        for worker in workers:
            self.offsets[worker.name] = worker.log_path.stat().st_size

    def new_lines(self, worker):
        offset = self.offsets.get(worker.name, 0)
        with open(worker.log_path, "rb") as file:
            file.seek(offset)
            data = file.read()
        complete = data.rfind(b"\n") + 1  # an unfinished line waits for the next look
        self.offsets[worker.name] = offset + complete
        return data[:complete].decode(errors="replace")


class Chaos:
    """Runs the schedule: each fault at its time from the start (or as soon as the one before has ended).
    Every fault is recorded with when it began and when it cleared (time.monotonic())."""

    def __init__(self, shop, schedule, started, stop):
        self.shop, self.schedule, self.started, self.stop = shop, schedule, started, stop
        self.faults, self.events, self.error = [], [], None
        self.tails = LogTails()

    def event(self, what):
        self.events.append((round(time.monotonic() - self.started, 2), what))
        log(what)

    def run(self):
        try:
            for number, planned in enumerate(self.schedule, 1):
                if self.stop.wait(max(0.0, self.started + planned["at"] - time.monotonic())):
                    return
                self.event(f"fault {number}/{len(self.schedule)}: {planned['kind']} {self.parameters(planned)}")
                outcome = getattr(self, planned["kind"].replace("-", "_"))(planned)
                if outcome is None:
                    self.event(f"fault {number} skipped: nothing to hit")
                    continue
                began, cleared, detail = outcome
                self.faults.append(
                    {"number": number, "kind": planned["kind"], "began": began, "cleared": cleared, **detail}
                )
        except Exception:
            self.error = traceback.format_exc()
            log(f"chaos failed:\n{self.error}")

    @staticmethod
    def parameters(planned):
        return {key: value for key, value in planned.items() if key not in ("at", "kind")}

    # Worker processes
    def kill_and_replace(self, victim, planned, what, then=None):
        """SIGKILL `victim`'s process group (then run `then`), start a replacement after the planned delay,
        with beat if the victim had it: (killed at, replacement ready at)."""
        victim.kill()
        killed = time.monotonic()
        if then is not None:
            then()
        self.shop.workers.remove(victim)
        self.event(f"SIGKILL {victim.name} {what}")
        time.sleep(planned["replace_after"])  # an orchestrator restarts it a little later
        replacement = self.shop.add_worker(beat="-B" in victim.popen.args)
        self.event(f"{replacement.name} ready, replacing {victim.name}")
        return killed, time.monotonic()

    def worker_kill(self, planned):
        workers = self.shop.workers
        victim = workers[min(int(planned["victim"] * len(workers)), len(workers) - 1)]
        killed, ready = self.kill_and_replace(victim, planned, "at a random moment")
        return killed, ready, {"worker": victim.name}

    def worker_kill_mid_email(self, planned):
        if not self.stall_next_conversation():
            return None
        sink = self.shop.sink
        address = sink.stalled_for[-1]
        try:
            worker, order_id, kind = wait_until(
                lambda: self.holder_of(address), timeout=15, what=f"the worker sending to {address}"
            )
        except TimeoutError:
            sink.release.set()
            return None
        killed, ready = self.kill_and_replace(
            worker, planned, f"holding order {order_id}'s {kind} email at RCPT", then=sink.release.set
        )
        return killed, ready, {"worker": worker.name, "order": order_id, "email": kind}

    def holder_of(self, address):
        """(worker, order id, kind) of the live worker whose process holds the claim of an email to `address`."""
        rows = self.shop.query(
            "SELECT e.claimed_by, e.order_id, e.kind FROM orders_orderemail e JOIN orders_order o "
            "ON o.id = e.order_id WHERE o.email = %s AND e.state = 'sending'",
            address,
        )
        for claimed_by, order_id, kind in rows:
            pid = int(claimed_by.split()[1].rsplit(":", 1)[1])
            worker = next((w for w in self.shop.workers if w.alive() and w.owns(pid)), None)
            if worker is not None:
                return worker, order_id, kind
        return None

    def worker_kill_mid_pdf(self, planned):
        self.tails.skip(self.shop.workers)

        def rendering():
            for worker in list(self.shop.workers):
                text = self.tails.new_lines(worker)
                for found in reversed(list(RENDERING.finditer(text))):
                    if f"order {found.group(1)}: invoice {found.group(2)} rendered" not in text[found.end() :]:
                        return worker, found
            return None

        try:
            worker, found = wait_until(rendering, timeout=60, interval=0.02, what="a worker rendering an invoice")
        except TimeoutError:
            return None
        order_id, number = int(found.group(1)), found.group(2)
        killed, ready = self.kill_and_replace(worker, planned, f"rendering invoice {number} of order {order_id}")
        mid_render = f"order {order_id}: invoice {number} rendered" not in self.tails.new_lines(worker)
        return killed, ready, {"worker": worker.name, "order": order_id, "email": "invoice", "mid_render": mid_render}

    # RabbitMQ, PostgreSQL, Redis
    def rabbit_node(self, planned):
        node = self.shop.cluster.nodes[planned["node"]]
        leader = self.shop.cluster.leader(TASK_QUEUE) is node  # the queue's leader: an election follows
        self.shop.cluster.kill(node)
        down = time.monotonic()
        self.event(f"SIGKILL RabbitMQ node {node.name}{' (leading the task queue)' if leader else ''}")
        time.sleep(planned["down_for"])  # the outage itself
        self.shop.cluster.restart(node)
        self.event(f"RabbitMQ node {node.name} back in the cluster")
        return down, time.monotonic(), {"node": node.name, "leader": leader}

    def postgres_restart(self, planned):
        down, back = self.shop.pg.restart(outage_seconds=planned["down_for"])
        self.event(f"PostgreSQL back after {back - down:.1f} s")
        return down, back, {}

    def redis_restart(self, planned):
        down, back = self.shop.redis.restart(outage_seconds=planned["down_for"])
        self.event(f"Redis back, empty, after {back - down:.1f} s")
        return down, back, {}

    # The mail server
    def smtp_refuse(self, planned):
        sink = self.shop.sink
        with sink.lock:
            sink.fail_next = planned["count"]
        began = time.monotonic()
        try:
            wait_until(lambda: sink.fail_next == 0, timeout=120, what="the refusals to be spent")
        except TimeoutError:
            with sink.lock:
                sink.fail_next = 0
        return began, time.monotonic(), {}

    def stall_next_conversation(self):
        """Hold the next SMTP conversation at RCPT; True once one is held (False if none came in a minute)."""
        sink = self.shop.sink
        sink.stalled.clear()
        sink.release.clear()
        with sink.lock:
            sink.stall_next, sink.stall_only = 1, None
        try:
            wait_until(sink.stalled.is_set, timeout=60, what="a conversation to hold")
        except TimeoutError:
            with sink.lock:
                sink.stall_next = 0
            if not sink.stalled.is_set():
                return False
        return True

    def smtp_stall(self, planned):
        if not self.stall_next_conversation():
            return None
        began = time.monotonic()
        time.sleep(planned["hold"])  # the stall itself
        self.shop.sink.release.set()
        return began, time.monotonic(), {"address": self.shop.sink.stalled_for[-1]}

    def smtp_late_reply(self, planned):
        sink = self.shop.sink
        before = len(sink.late_replied)
        with sink.lock:
            sink.late_reply, sink.reply_delay_next = LATE_REPLY, 1
        try:
            wait_until(lambda: len(sink.late_replied) > before, timeout=60, what="a message to answer late")
        except TimeoutError:
            with sink.lock:
                sink.reply_delay_next = 0
            if len(sink.late_replied) == before:
                return None
        began = time.monotonic()
        time.sleep(LATE_REPLY)  # until the late answer has gone out
        found = ORDER_EMAIL.search(str(sink.late_replied[before]["Message-ID"] or ""))
        detail = {"order": int(found.group(1)), "email": KIND_OF_TEMPLATE.get(found.group(2))} if found else {}
        return began, time.monotonic(), detail


# --- The end: settling, the report -------------------------------------------------------------------------


def settled(shop, shoppers):
    """Every email sent, unconfirmed or failed; every approved payment marked paid; the task queue empty."""
    states = dict(shop.query("SELECT state, COUNT(*) FROM orders_orderemail GROUP BY state"))
    if states.get("pending") or states.get("sending"):
        return False
    approved = sum(1 for result in shoppers.results if result and result.get("decided") == "approve")
    paid = shop.query("SELECT COUNT(*) FROM orders_order WHERE status = 'paid'")[0][0]
    return paid >= approved and shop.cluster.queue_depth(TASK_QUEUE) == 0


def report(args, shop, shoppers, chaos, clocks):
    """Everything the run shows, and whether every target holds."""
    wall, mono = clocks  # time.time() and time.monotonic() read together: database times to monotonic ones
    orders = {
        number: {
            "id": order_id,
            "status": status,
            "created": float(created) - wall + mono,
            "total": total,
            "email": email,
        }
        for number, order_id, status, created, total, email in shop.query(
            "SELECT number, id, status, EXTRACT(EPOCH FROM created), total, email FROM orders_order"
        )
    }
    by_id = {order["id"]: order for order in orders.values()}
    invoices = {
        order_id: (year, sequence, float(issued) - wall + mono)
        for order_id, year, sequence, issued in shop.query(
            "SELECT order_id, year, sequence, EXTRACT(EPOCH FROM issued_at) FROM payments_invoice"
        )
    }
    # The provider's confirmation of each approval: from then on the order is paid for, its invoice owed.
    confirmed = {
        int(order_id): float(decided) - wall + mono + CONFIRM_SECONDS
        for order_id, decided in shop.query(
            "SELECT client_reference_id, EXTRACT(EPOCH FROM decided_at) FROM payments_offlinecheckout "
            "WHERE status IN ('approved', 'refunded')"
        )
    }
    rows = {
        (order_id, kind): (state, attempts)
        for order_id, kind, state, attempts in shop.query(
            "SELECT order_id, kind, state, attempts FROM orders_orderemail"
        )
    }
    copies = {}
    for kind in TEMPLATES:
        for order_id, arrived in shop.sink.received(kind):
            copies.setdefault((order_id, kind), []).append(arrived)

    results = [result for result in shoppers.results if result is not None]
    placed = [orders[result["number"]]["id"] for result in results if result["placed"]]
    paid = [order_id for order_id in placed if by_id[order_id]["status"] == "paid"]
    approved = {orders[r["number"]]["id"] for r in results if r["placed"] and r.get("decided") == "approve"}
    unconfirmed_lost = [order_id for order_id in placed if (order_id, "confirmation") not in copies]
    uninvoiced = [order_id for order_id in paid if (order_id, "invoice") not in copies]
    duplicates = sorted(
        [order_id, kind, len(arrivals)] for (order_id, kind), arrivals in copies.items() if len(arrivals) > 1
    )
    sequences = {}
    for year, sequence, _ in invoices.values():
        sequences.setdefault(year, []).append(sequence)

    # Late replies: each one copy, "unconfirmed".
    late = []
    for message in shop.sink.late_replied:
        found = ORDER_EMAIL.search(str(message["Message-ID"] or ""))
        if found:
            key = (int(found.group(1)), KIND_OF_TEMPLATE.get(found.group(2)))
            late.append(
                {
                    "order": key[0],
                    "email": key[1],
                    "state": rows.get(key, ("?",))[0],
                    "copies": len(copies.get(key, [])),
                }
            )

    # A sample of the invoice PDFs (pdftotext is slow): each shows its number and its order's total.
    sample = random.Random(args.seed).sample(paid, min(100, len(paid)))
    pdf_problems = [
        f"order {order_id}: {problem}"
        for order_id in sample
        for message in shop.sink.messages_of("invoice", order_id)
        if (problem := pdf_problem(message, invoices.get(order_id, (0, 0))[:2], Decimal(by_id[order_id]["total"])))
    ]

    # From each fault clearing to every email it held up (owed before it cleared, arriving after it began).
    recovery = dict.fromkeys(FAULTS, 0.0)
    worst_lateness, late_emails, delays = 0.0, [], []
    for (order_id, kind), arrivals in copies.items():
        if order_id not in by_id:
            continue
        if kind == "confirmation":
            owed = by_id[order_id]["created"]
        else:  # owed since the provider confirmed the payment (the webhook may come later: that counts too)
            owed = confirmed.get(order_id, invoices.get(order_id, (0, 0, None))[2])
        if owed is None:
            continue
        first = min(arrivals)
        delays.append(first - owed)
        held_up = [fault for fault in chaos.faults if owed <= fault["cleared"] and first >= fault["began"]]
        for fault in held_up:
            recovery[fault["kind"]] = max(recovery[fault["kind"]], first - fault["cleared"])
        lateness = first - max([owed] + [fault["cleared"] for fault in held_up])
        worst_lateness = max(worst_lateness, lateness)
        if lateness > EMAIL_TARGET:
            late_emails.append([order_id, kind, round(lateness, 1)])
    for fault in chaos.faults:  # the email a targeted fault hit: how long until it arrived
        arrivals = copies.get((fault.get("order"), fault.get("email")), [])
        fault["email_after_s"] = round(min(arrivals) - fault["began"], 1) if arrivals else None

    states = Counter(f"{kind} {state}" for (_, kind), (state, _) in rows.items())
    done = Counter(fault["kind"] for fault in chaos.faults)
    result = {
        "orders": args.orders,
        "seed": args.seed,
        "rate": args.rate,
        "placed": len(placed),
        "emailed": len(placed) - len(unconfirmed_lost),
        "paid": len(paid),
        "invoiced": len(paid) - len(uninvoiced),
        "duplicates": len(duplicates),
        "lost": len(unconfirmed_lost) + len(uninvoiced),
        "server_errors": len(shoppers.server_errors),
        "answered_503": shoppers.statuses[503],
        "503_without_retry_after": len(shoppers.without_retry_after),
        "unanswered": len(shoppers.unanswered),
        "recovery_s": {kind: round(seconds, 1) for kind, seconds in recovery.items()},
        "longest_recovery_s": round(max(recovery.values()), 1),
        "worst_email_lateness_s": round(worst_lateness, 1),
        "emails_later_than_target": late_emails[:50],
        "faults_done": dict(done),
        "late_replies": late,
        "approved_at_provider": len(approved),
        "approved_not_paid": sorted(approved - set(paid))[:50],
        "paid_not_approved": sorted(set(paid) - approved)[:50],
        "paid_without_invoice": sorted(set(paid) - set(invoices))[:50],
        "invoice_numbers": {year: [min(s), max(s), len(s)] for year, s in sequences.items()},
        "gapless": all(sorted(s) == list(range(1, len(s) + 1)) for s in sequences.values()),
        "pdf_problems": pdf_problems[:20],
        "orders_in_database": len(orders),
        # Placed by a checkout whose thank-you page never came (the shopper then ordered again): emailed too?
        "unseen_orders": [
            [order_id, order["email"], (order_id, "confirmation") in copies]
            for order_id, order in sorted(by_id.items())
            if order_id not in set(placed)
        ][:50],
        "email_states": dict(sorted(states.items())),
        "lost_orders": (unconfirmed_lost + uninvoiced)[:50],
        "duplicate_emails": duplicates[:50],
        "server_error_samples": shoppers.server_errors[:20],
        "unanswered_samples": shoppers.unanswered[:20],
        "shopper_problems": Counter(r["problem"] for r in results if r["problem"]).most_common(10),
        "statuses": {str(status): count for status, count in sorted(shoppers.statuses.items())},
        "checkout": summary([r["seconds"] for r in results if r.get("seconds") is not None]),
        "email_delay": summary(delays),  # from owed (placed, or the payment confirmed) to the first copy
        # From the provider's confirmation to the order marked paid (the webhook, or the shop asking).
        "payment_confirmation": summary(
            [
                invoices[order_id][2] - confirmed[order_id]
                for order_id in paid
                if order_id in confirmed and order_id in invoices
            ]
        ),
        "chaos_error": chaos.error,
        "schedule": chaos.schedule,
        "faults": [
            {
                **fault,
                "began": round(fault["began"] - chaos.started, 1),
                "cleared": round(fault["cleared"] - chaos.started, 1),
            }
            for fault in chaos.faults
        ],
        "events": chaos.events,
    }
    result["ok"] = bool(
        result["placed"] == result["emailed"] == args.orders
        and result["invoiced"] == result["paid"]
        and not duplicates
        and result["lost"] == 0
        and result["server_errors"] == 0
        and result["503_without_retry_after"] == 0
        and result["unanswered"] == 0
        and result["longest_recovery_s"] <= EMAIL_TARGET
        and result["worst_email_lateness_s"] <= EMAIL_TARGET
        and late
        and all(entry["state"] == "unconfirmed" and entry["copies"] == 1 for entry in late)
        and not result["approved_not_paid"]
        and not result["paid_not_approved"]
        and not result["paid_without_invoice"]
        and result["gapless"]
        and not pdf_problems
        and set(done) == set(FAULTS)
        and not chaos.error
    )
    return result


def table(result):
    n = result["orders"]
    rows = [
        (
            "placed / emailed / invoiced / duplicates / lost",
            f"{result['placed']} / {result['emailed']} / {result['invoiced']} / {result['duplicates']} / "
            f"{result['lost']}   (target {n} / {n} / {result['paid']} paid / 0 / 0)",
        ),
        ("paid (approved at the provider)", f"{result['paid']} ({result['approved_at_provider']})"),
        (
            "web: 5xx but 503 / 503 (without Retry-After) / unanswered",
            f"{result['server_errors']} / {result['answered_503']} ({result['503_without_retry_after']}) / "
            f"{result['unanswered']}   (target 0 / any (0) / 0)",
        ),
        ("longest fault clearing -> email", f"{result['longest_recovery_s']} s   (target <= {EMAIL_TARGET} s)"),
    ]
    rows += [(f"  after {kind}", f"{seconds} s") for kind, seconds in result["recovery_s"].items()]
    rows += [
        ("faults done", ", ".join(f"{kind} {count}" for kind, count in sorted(result["faults_done"].items()))),
        (
            "late replies (state, copies)",
            ", ".join(f"order {e['order']} {e['email']}: {e['state']}, {e['copies']}" for e in result["late_replies"]),
        ),
        ("invoice numbers gapless", f"{result['gapless']} {result['invoice_numbers']}"),
        (
            "orders placed unseen (no thank-you page): emailed",
            f"{sum(emailed for _, _, emailed in result['unseen_orders'])} of {len(result['unseen_orders'])}",
        ),
        ("email states", ", ".join(f"{state} {count}" for state, count in result["email_states"].items())),
        (
            "checkout p50 / p95 / max",
            f"{result['checkout']['p50']} / {result['checkout']['p95']} / {result['checkout']['max']} ms",
        ),
        (
            "payment confirmed -> order paid p50 / p95 / max",
            " / ".join(f"{result['payment_confirmation'][key]}" for key in ("p50", "p95", "max")) + " ms",
        ),
        (
            "email owed -> arrived p50 / p95 / max",
            f"{result['email_delay']['p50']} / {result['email_delay']['p95']} / {result['email_delay']['max']} ms",
        ),
        ("seed", result["seed"]),
        ("verdict", "OK" if result["ok"] else "NOT OK"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, help="orders to place (default 10000; 500 with --short)")
    parser.add_argument("--rate", type=float, help="orders a second (default 5; 2.5 with --short)")
    parser.add_argument("--seed", type=int, help="the schedule's and the orders' seed (default: drawn, printed)")
    parser.add_argument("--short", action="store_true", help="500 orders at 2.5/s, a fault every 15 s: 5 minutes")
    parser.add_argument("--fault-every", type=float, help="seconds between faults on average (default 20; 15 short)")
    parser.add_argument("--shoppers", type=int, default=16, help="shopper threads (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--settle-timeout", type=float, default=900)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "chaos.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (every log)")
    args = parser.parse_args(argv)
    args.orders = args.orders or (500 if args.short else 10_000)
    args.rate = args.rate or (2.5 if args.short else 5.0)
    args.fault_every = args.fault_every or (15.0 if args.short else 20.0)
    args.seed = random.randrange(1_000_000) if args.seed is None else args.seed
    if args.orders < 10 or args.rate <= 0 or args.shoppers < 1 or args.workers < 2:
        parser.error("--orders at least 10, --rate positive, --shoppers at least 1, --workers at least 2")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(Interrupted()))
    rng = random.Random(args.seed)  # every random choice of the run comes from it, in this order
    duration = args.orders / args.rate
    schedule = draw_schedule(rng, duration, args.fault_every)
    print(f"chaos: seed {args.seed}, {args.orders} orders at {args.rate}/s ({duration:.0f} s), {len(schedule)} faults:")
    for planned in schedule:
        print(f"  {planned['at']:8.1f} s  {planned['kind']:<22} {Chaos.parameters(planned)}")
    sys.stdout.flush()

    workdir = Path(tempfile.mkdtemp(prefix="myshop-chaos-"))
    shop, stop, threads, chaos_thread = Shop(workdir, args.workers), threading.Event(), [], None
    keep, result = args.keep, None
    try:
        shop.start()
        plans = draw_plans(rng, args.orders, shop.products)
        clocks = (time.time(), time.monotonic())
        started = time.monotonic()
        shoppers = Shoppers(shop, plans, started, stop)
        chaos = Chaos(shop, schedule, started, stop)
        chaos_thread = threading.Thread(target=chaos.run, daemon=True)
        chaos_thread.start()
        threads = paced(
            shoppers.shop, args.orders, duration=duration, threads=args.shoppers, started=started, stop=stop
        )
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(30 / len(threads))
            done, placed = shoppers.progress()
            log(f"progress: {done}/{args.orders} shoppers done, {placed} placed, {len(shop.sink.messages)} emails")
        chaos.event(f"every shopper done: {shoppers.progress()[1]}/{args.orders} placed")
        chaos_thread.join()
        settling = time.monotonic()
        try:
            wait_until(lambda: settled(shop, shoppers), timeout=args.settle_timeout, interval=2, what="every email")
            chaos.event(f"settled {time.monotonic() - settling:.0f} s after the last shopper")
        except TimeoutError:
            chaos.event(f"not settled after {args.settle_timeout:.0f} s: reporting what there is")
        time.sleep(5)  # late duplicates would arrive now
        result = report(args, shop, shoppers, chaos, clocks)
        result["duration_s"] = round(time.monotonic() - started, 1)
        keep = keep or not result["ok"]
    except (KeyboardInterrupt, Interrupted):
        log("interrupted: stopping everything")
        keep = True
        return 130
    except Exception:
        log(f"the soak failed:\n{traceback.format_exc()}")
        keep = True
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        if chaos_thread is not None:
            chaos_thread.join(timeout=120)
        shop.close()
        if keep:
            log(f"kept {workdir} (every process's log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(json.dumps({key: value for key, value in result.items() if key not in ("events", "schedule", "faults")}))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
