#!/usr/bin/env python
"""Clustered soak: N orders through the web while RabbitMQ nodes and worker hosts die.

    .venv/bin/python bench/soak_cluster.py                  # 150 orders, fresh SQLite database
    .venv/bin/python bench/soak_cluster.py --orders 60 --duration 30
    .venv/bin/python bench/soak_cluster.py --database-url postgres://postgres@127.0.0.1:5432/myshop_soak_cluster
    .venv/bin/python bench/soak_cluster.py --measure-failover 3   # only the worker's pause, 3 kills, median

Everything runs for real on this machine: a three-node RabbitMQ cluster (testkit/cluster.py; the shared broker
on 5672 is never touched), an SMTP server recording what it receives, the web server (runserver) and two
worker "hosts" of two worker processes each (host A also runs beat), all with production settings,
CELERY_BROKER_URL listing the three nodes and fast-recovery timings. Shopper threads fill carts and check out
over HTTP, spread over --duration seconds, while a chaos thread, timed by the share of orders placed:

  20 %  SIGKILLs the RabbitMQ node leading the task queue (a quorum queue on all three nodes);
  40 %  SIGKILLs one worker process of host B, and starts a replacement 2 s later;
  55 %  restarts the killed RabbitMQ node on its data (it rejoins and its replica catches up);
  70 %  loses host A: SIGKILLs both its worker processes (and beat) at once; a replacement host comes up
        3 s later, as an orchestrator would restart it.

Then it waits for every placed order to be emailed and nothing to be pending, waits 5 s for late duplicates,
and prints orders placed / emailed / duplicates / lost (target N / N / 0 / 0), the time each fault took to
recover (from the fault to the first email of an order placed after it), checkout latency, as a table and as
JSON (--json, default var/soak_cluster.json). Exit code 0 iff N/N/0/0 with every checkout placed, 1 otherwise,
2 if the soak itself failed, 130 when interrupted. Everything it started is stopped on the way out, even on
Ctrl-C or SIGTERM; the temporary directory (database, logs) is kept when the result is not N/N/0/0.

--measure-failover R measures one thing instead: a worker consumes probe tasks published every 50 ms (through
another node); the node the worker consumes through is SIGKILLed, and the pause is the time from the kill to
the worker's next finished task; the node is restarted and it starts over, R times; prints each and the
median. --consumer celery.worker.consumer:Consumer measures Celery's own consumer for comparison.
"""

import argparse
import json
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from testkit.cluster import RabbitCluster  # noqa: E402
from testkit.processes import manage, shop_environment, start_web, start_worker  # noqa: E402
from testkit.shopper import Shopper, placed_order_number  # noqa: E402
from testkit.smtp import ORDER_EMAIL, SmtpSink  # noqa: E402

TASK_QUEUE = "myshop"
# Each placed order's id, by its number (the thank-you page shows the number, the emails carry the id).
ORDER_IDS = (
    "import json; from orders.models import Order; "
    "print('SOAK_ORDERS=' + json.dumps(dict(Order.objects.values_list('number', 'id'))))"
)
FAST_SETTINGS = {  # recovery in seconds rather than the production quarter of an hour
    "ORDER_EMAIL_SWEEP_SECONDS": "2",
    "ORDER_EMAIL_QUEUE_GRACE_SECONDS": "2",
    "ORDER_EMAIL_RETRY_BASE_SECONDS": "1",
    "CELERY_TASK_TIME_LIMIT": "10",
    "ORDER_EMAIL_CLAIM_SECONDS": "15",
}
PREPARE_CATALOG = """
import json
from shop.models import Product
Product.objects.update(stock=1_000_000_000, available=True)
print("SOAK_PRODUCTS=" + json.dumps(list(Product.objects.filter(available=True).values_list("id", flat=True))))
"""


def log(message):
    print(f"[soak-cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C."""


class Sink(SmtpSink):
    """The SMTP server, remembering when each message arrived."""

    def __init__(self):
        super().__init__()
        self.arrivals = []  # (monotonic, order id, recipient) of each confirmation
        handler = self.controller.handler
        original = handler.handle_DATA

        async def handle_DATA(server, session, envelope):
            reply = await original(server, session, envelope)
            with self.lock:
                message = self.messages[-1]
                match = ORDER_EMAIL.search(str(message["Message-ID"] or ""))
                if match and match.group(2) == "confirmation":
                    self.arrivals.append((time.monotonic(), int(match.group(1)), str(message["To"])))
            return reply

        handler.handle_DATA = handle_DATA

    def snapshot(self):
        with self.lock:
            return list(self.arrivals)


class Database:
    """A fresh SQLite file, or a PostgreSQL database (its name must contain 'soak') created and dropped here."""

    def __init__(self, url, workdir):
        self.url, self.pg = url or f"sqlite:///{workdir / 'soak.sqlite3'}", url is not None
        if self.pg:
            parts = urllib.parse.urlsplit(url)
            self.name = parts.path.lstrip("/")
            if "soak" not in self.name or not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
                raise SystemExit(
                    "--database-url: the database is dropped and recreated, so its name must "
                    "contain 'soak' (letters, digits, underscores)"
                )
            self.admin = dict(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=urllib.parse.unquote(parts.username or "postgres"),
                password=urllib.parse.unquote(parts.password) if parts.password else None,
            )

    def _run(self, sql):
        import psycopg

        args = {key: value for key, value in self.admin.items() if value is not None}
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **args) as conn:
            conn.execute(sql)

    def create(self):
        if self.pg:
            self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._run(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        if self.pg:
            try:
                self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except Exception as error:
                log(f"could not drop {self.name}: {error}")


class Run:
    def __init__(self, total, duration):
        self.total, self.interval = total, duration / total
        self.start = time.monotonic()
        self.lock = threading.Condition()
        self.next_index = self.placed = self.done = 0
        self.results, self.events = [], []
        self.stop = threading.Event()

    def event(self, what, **details):
        with self.lock:
            self.events.append({"at": round(time.monotonic() - self.start, 2), "what": what, **details})
        log(what + (f" {details}" if details else ""))
        return time.monotonic()

    def take(self):
        with self.lock:
            if self.next_index >= self.total or self.stop.is_set():
                return None
            self.next_index += 1
            index = self.next_index
        slot = self.start + (index - 1) * self.interval
        while not self.stop.is_set() and time.monotonic() < slot:
            self.stop.wait(min(0.5, slot - time.monotonic()))
        return None if self.stop.is_set() else index

    def record(self, result):
        with self.lock:
            self.results.append(result)
            self.done += 1
            self.placed += result["placed"]
            self.lock.notify_all()

    def wait_placed(self, fraction):
        target = max(1, round(self.total * fraction))
        with self.lock:
            while self.placed < target and self.done < self.total and not self.stop.is_set():
                self.lock.wait(0.2)
        return not self.stop.is_set()


def shopper(run, base_url, products, seed):
    rng = random.Random(seed)
    while (index := run.take()) is not None:
        result = {
            "index": index,
            "email": f"soak+{index}@example.com",
            "placed": False,
            "order": None,
            "status": None,
            "started": None,
            "seconds": None,
        }
        try:
            client = Shopper(base_url)
            for product in rng.sample(products, rng.randint(1, min(3, len(products)))):
                client.add_to_cart(product, rng.randint(1, 2))
            result["started"] = time.monotonic()
            status, location, body, seconds = client.checkout(
                {
                    "first_name": "Soak",
                    "last_name": f"Shopper{index}",
                    "email": result["email"],
                    "address": f"{index} Cluster Street",
                    "postal_code": "10115",
                    "city": "Berlin",
                }
            )
            result.update(status=status, seconds=round(seconds, 3))
            result["number"] = placed_order_number(status, body)
            result["placed"] = result["number"] is not None
        except Exception as error:  # refused, timed out: a failed checkout, reported
            result["status"] = f"error-{type(error).__name__}: {error}"[:200]
        run.record(result)


def chaos(run, cluster, workers, start_worker_named):
    """The faults, timed by progress; {fault: monotonic time} for the recovery figures."""
    faults = {}
    try:
        if not run.wait_placed(0.20):
            return faults
        leader = cluster.leader(TASK_QUEUE)
        faults["broker node killed"] = run.event("SIGKILL RabbitMQ node leading the queue", node=leader.name)
        cluster.kill(leader)
        if not run.wait_placed(0.40):
            return faults
        faults["worker process killed"] = run.event("SIGKILL worker process", worker="hostB-2")
        workers.pop("hostB-2").kill()
        time.sleep(2)
        workers["hostB-2b"] = start_worker_named("hostB-2b", beat=False)
        run.event("replacement worker process ready", worker="hostB-2b")
        if not run.wait_placed(0.55):
            return faults
        run.event("restarting the killed RabbitMQ node", node=leader.name)
        cluster.restart(leader)
        run.event("node back in the cluster", node=leader.name, members=cluster.members(TASK_QUEUE))
        if not run.wait_placed(0.70):
            return faults
        faults["worker host lost"] = run.event("SIGKILL every worker process of host A (with beat)")
        for name in [name for name in workers if name.startswith("hostA")]:
            workers.pop(name).kill()
        time.sleep(3)
        workers["hostA2-1"] = start_worker_named("hostA2-1", beat=True)
        workers["hostA2-2"] = start_worker_named("hostA2-2", beat=False)
        run.event("replacement host A ready (with beat)")
    except Exception:
        run.event("chaos failed", error=traceback.format_exc()[-800:])
    return faults


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(share * (len(values) - 1))))] if values else None


def report(args, run, arrivals, faults, settle_seconds, database_kind):
    placed = {r["order"]: r for r in run.results if r["placed"] and r["order"] is not None}
    emails = {}
    for _, order, _ in arrivals:
        if order is not None:
            emails[order] = emails.get(order, 0) + 1
    duplicates = sum(count - 1 for order, count in emails.items() if order in placed and count > 1)
    lost = sorted(order for order in placed if order not in emails)
    recovery = {}
    for fault, at in faults.items():
        later = [
            arrived
            for arrived, order, _ in arrivals
            if order in placed and placed[order]["started"] and placed[order]["started"] > at
        ]
        recovery[fault] = round(min(later) - at, 2) if later else None
    seconds = [r["seconds"] for r in run.results if r["seconds"] is not None]
    result = {
        "orders": args.orders,
        "placed": len(placed),
        "emailed": len([o for o in placed if o in emails]),
        "duplicates": duplicates,
        "lost": len(lost),
        "lost_orders": lost[:50],
        "failed_checkouts": [r for r in run.results if not r["placed"]][:20],
        "recovery_seconds": recovery,
        "settled_after_last_order_seconds": settle_seconds,
        "checkout_seconds": {
            "p50": percentile(seconds, 0.5),
            "p95": percentile(seconds, 0.95),
            "max": max(seconds) if seconds else None,
            "mean": round(statistics.mean(seconds), 3) if seconds else None,
        },
        "database": database_kind,
        "events": run.events,
        "seed": args.seed,
    }
    result["ok"] = result["placed"] == args.orders == result["emailed"] and not duplicates and not lost
    return result


def table(result):
    rows = [
        ("orders placed", f"{result['placed']} / {result['orders']}"),
        ("emailed", result["emailed"]),
        ("duplicates", result["duplicates"]),
        ("lost", result["lost"]),
    ]
    rows += [(f"recovery after {fault}", f"{seconds} s") for fault, seconds in result["recovery_seconds"].items()]
    rows += [
        ("settled after last order", f"{result['settled_after_last_order_seconds']} s"),
        ("checkout p50 / p95 / max", " / ".join(f"{result['checkout_seconds'][k]} s" for k in ("p50", "p95", "max"))),
        ("database", result["database"]),
        ("verdict", "N/N/0/0" if result["ok"] else "NOT N/N/0/0"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def measure_failover(args):
    """The worker's consumption pause after its node dies, `args.measure_failover` times; 0 when done."""
    workdir = Path(tempfile.mkdtemp(prefix="myshop-failover-"))
    cluster, worker, stop = None, None, threading.Event()
    pauses = []
    try:
        cluster = RabbitCluster(prefix=f"myshop-failover-{random.randrange(10**6)}").start()
        env = shop_environment(
            database=f"sqlite:///{workdir / 'db.sqlite3'}",
            broker=cluster.url,
            smtp_port=1,
            CELERY_WORKER_CONSUMER=args.consumer,
        )
        manage(env, "migrate", "--noinput")
        worker = start_worker(env, workdir, name="failover")
        from celery import Celery

        finished = []  # monotonic time of each finished probe, read from the worker's log as it grows

        def publish():
            sender = None
            number = 10**9
            while not stop.is_set():
                if sender is None:
                    live = next(node for node in cluster.nodes if node.alive())
                    sender = Celery("probe", broker=live.url, set_as_current=False)
                    sender.conf.update(
                        task_default_queue=TASK_QUEUE,
                        task_default_queue_type="quorum",
                        task_default_exchange_type="topic",
                        broker_connection_timeout=0.5,
                        broker_transport_options={"confirm_publish": True},
                    )
                number += 1
                try:
                    sender.send_task("orders.tasks.order_created", args=[number])  # no such order: quick
                except Exception:
                    sender = None  # its node died: publish through another one
                stop.wait(0.05)

        def follow():
            seen = 0
            while not stop.is_set():
                lines = worker.log().splitlines()
                finished.extend(time.monotonic() for line in lines[seen:] if "no such order" in line)
                seen = len(lines)
                stop.wait(0.02)

        for target in (publish, follow):
            threading.Thread(target=target, daemon=True).start()
        for run in range(args.measure_failover):
            time.sleep(3)
            [name] = cluster.consumer_nodes(TASK_QUEUE) or [None]
            node = cluster.node_named(name)
            killed = time.monotonic()
            cluster.kill(node)
            deadline = killed + 120
            while time.monotonic() < deadline and not [at for at in finished if at > killed + 0.05]:
                time.sleep(0.02)
            after = [at for at in finished if at > killed + 0.05]
            pause = round(after[0] - killed, 2) if after else None
            pauses.append(pause)
            log(f"run {run + 1}: killed {node.name}; the worker finished a task again after {pause} s")
            cluster.restart(node)
        stop.set()
        valid = [pause for pause in pauses if pause is not None]
        median = statistics.median(valid) if valid else None
        print(json.dumps({"consumer": args.consumer, "pauses_seconds": pauses, "median_seconds": median}))
        return 0
    except (KeyboardInterrupt, Interrupted):
        return 130
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if worker is not None:
            worker.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--shoppers", type=int, default=4)
    parser.add_argument(
        "--duration", type=float, default=45.0, help="spread the checkouts over about this many seconds (default 45)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL database to create and drop (its name must contain 'soak'); default a fresh SQLite file",
    )
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", default=str(ROOT / "var" / "soak_cluster.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    parser.add_argument(
        "--measure-failover",
        type=int,
        default=0,
        metavar="RUNS",
        help="only measure the worker's pause after its node dies, RUNS times",
    )
    parser.add_argument(
        "--consumer", default="core.worker:FailoverConsumer", help="CELERY_WORKER_CONSUMER for --measure-failover"
    )
    args = parser.parse_args(argv)
    if args.orders < 10 or args.shoppers < 1 or args.duration <= 0:
        parser.error("--orders must be at least 10, --shoppers at least 1, --duration positive")
    args.seed = random.randrange(1_000_000) if args.seed is None else args.seed
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(Interrupted()))
    if args.measure_failover:
        return measure_failover(args)
    workdir = Path(tempfile.mkdtemp(prefix="myshop-soak-cluster-"))
    database = Database(args.database_url, workdir)
    cluster, sink, web, run, result = None, None, None, None, None
    workers = {}
    keep = args.keep
    try:
        log(f"working directory {workdir} (seed {args.seed}); starting a three-node RabbitMQ cluster")
        cluster = RabbitCluster(prefix=f"myshop-soak-cluster-{random.randrange(10**6)}").start()
        sink = Sink().start()
        database.create()
        env = shop_environment(
            database=database.url,
            broker=cluster.url,
            smtp_port=sink.port,
            CELERY_BEAT_SCHEDULE_FILENAME=str(workdir / "celerybeat-schedule"),
            **FAST_SETTINGS,
        )
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo_catalog")
        products = json.loads(manage(env, "shell", "-c", PREPARE_CATALOG).split("SOAK_PRODUCTS=", 1)[1].splitlines()[0])

        def start_worker_named(name, beat):
            return start_worker(env, workdir, name=name, beat=beat)

        web = start_web(env, workdir)
        for name, beat in (("hostA-1", True), ("hostA-2", False), ("hostB-1", False), ("hostB-2", False)):
            workers[name] = start_worker_named(name, beat)
        log(f"web at {web.base_url}, 4 workers on 2 hosts; placing {args.orders} orders")

        run = Run(args.orders, args.duration)
        rng = random.Random(args.seed)
        threads = [
            threading.Thread(target=shopper, args=(run, web.base_url, products, rng.randrange(1 << 30)), daemon=True)
            for _ in range(args.shoppers)
        ]
        faults = {}
        chaos_thread = threading.Thread(
            target=lambda: faults.update(chaos(run, cluster, workers, start_worker_named)), daemon=True
        )
        for thread in threads + [chaos_thread]:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(5)
            log(f"progress: {run.done}/{args.orders} checkouts, {run.placed} placed, {len(sink.snapshot())} emails")
        last_order = run.event(f"all checkouts done: {run.placed}/{args.orders} placed")
        chaos_thread.join()

        ids = json.loads(manage(env, "shell", "-c", ORDER_IDS).split("SOAK_ORDERS=", 1)[1].splitlines()[0])
        for result in run.results:
            result["order"] = ids.get(result.get("number"))
        placed = {r["order"] for r in run.results if r["placed"]}
        deadline = time.monotonic() + args.settle_timeout
        while time.monotonic() < deadline:
            emailed = {order for _, order, _ in sink.snapshot()}
            if placed <= emailed and cluster.queue_depth(TASK_QUEUE) == 0:
                break
            time.sleep(1)
        settle = round(time.monotonic() - last_order, 1)
        run.event("settled" if placed <= {order for _, order, _ in sink.snapshot()} else "settle timeout")
        time.sleep(5)  # late duplicates
        result = report(args, run, sink.snapshot(), faults, settle, "postgresql" if database.pg else "sqlite")
        keep = keep or not result["ok"]
    except (KeyboardInterrupt, Interrupted):
        log("interrupted: cleaning up")
        return 130
    except Exception:
        log(f"soak failed:\n{traceback.format_exc()}")
        keep = True
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        if run is not None:
            run.stop.set()
        for process in list(workers.values()) + ([web] if web else []):
            try:
                process.stop()
            except Exception as error:
                log(f"could not stop {process.name}: {error}")
        if cluster is not None:
            cluster.stop()
        if sink is not None:
            sink.stop()
        database.drop()
        if keep:
            log(f"kept {workdir} (logs: *.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    print(table(result))
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
