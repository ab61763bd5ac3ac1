#!/usr/bin/env python
"""Soak benchmark: place N orders through the web layer while the broker goes down and a worker is killed.

    .venv/bin/python bench/soak.py                      # 200 orders, fresh SQLite database
    .venv/bin/python bench/soak.py --orders 30          # a quick run
    .venv/bin/python bench/soak.py --database-url postgres://postgres@127.0.0.1:5432/myshop_soak

Everything runs for real, as in tests/test_faults.py: a private RabbitMQ node (the shared broker on 5672 is
never touched), a local SMTP server recording what it receives, the web server (runserver) and two Celery
workers (one also runs beat) as subprocesses with production settings and fast-recovery timings.

K shopper threads fill carts and check out over HTTP, paced so the checkouts spread over --duration seconds
(default 40; unpaced, the shop takes ~10 s for 200 orders, about as long as the broker outage, so the
faults would hit an idle system). Meanwhile a chaos thread, timed by progress:
  - at 25 % of the orders placed stops the broker app (connections dropped, port closed) for ~5 s;
  - at 60 % SIGKILLs the worker without beat (its whole process group) mid-flight, and starts a replacement
    a couple of seconds later. --kill-point says when: "mid-email" (default: while its SMTP conversation is
    open, held by the SMTP server after MAIL FROM, so the order is claimed and the email not yet accepted),
    "after-email" (the SMTP server has recorded its email and holds back the "250 accepted" reply, so the
    email is delivered and the worker has not recorded "sent": the window in which a crash can only be
    repaired by sending again), or "busy" (as soon as its log shows a confirmation task received).
Then it waits for the system to settle (every placed order emailed, no confirmation pending or being sent,
the queue empty), waits a few more seconds for late duplicates, and reports:

    orders placed / emails sent / duplicates / lost          target: N / N / 0 / 0

as a table and as JSON (stdout and --json, default var/soak.json). Exit code 0 iff every checkout placed
its order and there is no duplicate and nothing lost (1 otherwise, 2 if the soak itself failed, 130 when
interrupted). This is a script, not a test.

Everything is cleaned up even on Ctrl-C or failure: workers, web server, RabbitMQ node, SMTP server, the
PostgreSQL database. The temporary directory (SQLite database, logs) is removed unless --keep, except when
the result is not N/N/0/0 or the soak crashed: then it is kept and the log paths are printed.
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.harness import (  # noqa: E402
    RabbitNode, Shopper, SmtpSink, manage, shop_environment, start_web, start_worker,
)

ORDER_NUMBER = re.compile(r'<strong id="order-number">(\d+)</strong>')
TASK_LINE = re.compile(r"Task orders\.tasks\.order_created\[([0-9a-f-]+)\] (received|succeeded|retry|failed|raised)")

# Fast recovery, so a soak takes a minute or two rather than the production quarter of an hour.
FAST_SETTINGS = {
    "ORDER_EMAIL_SWEEP_SECONDS": "2",
    "ORDER_EMAIL_QUEUE_GRACE_SECONDS": "2",
    "ORDER_EMAIL_RETRY_BASE_SECONDS": "0.5",
    "CELERY_TASK_TIME_LIMIT": "10",
    "ORDER_EMAIL_CLAIM_SECONDS": "15",  # must stay above CELERY_TASK_TIME_LIMIT (the settings check it)
}
OUTAGE_AT = 0.25
OUTAGE_SECONDS = 5.0
KILL_AT = 0.60
REPLACEMENT_AFTER = 2.0
BUSY_WAIT_MAX = 30.0  # if the worker never reaches the kill point within this, it is killed anyway (reported)
LATE_DUPLICATE_WAIT = 5.0

FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]


def log(message):
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C."""


# --- The SMTP sink, with arrival times ----------------------------------------------------------------

class TimedList(list):
    """A list that remembers when each item was appended (the sink appends under its lock)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def append(self, item):
        self.times.append(time.monotonic())
        super().append(item)

    def clear(self):
        self.times.clear()
        super().clear()


class DataTrap:
    """Holds the server's reply to the next DATA after the message is recorded: the email has arrived, its
    sender does not know yet. Installed on the sink's handler instance (aiosmtpd looks hooks up per connection).
    """

    def __init__(self, sink):
        import asyncio
        self.armed = False
        self.hit = threading.Event()
        self.release = threading.Event()
        handler = sink.controller.handler
        original = handler.handle_DATA

        async def handle_DATA(server, session, envelope):
            reply = await original(server, session, envelope)
            if self.armed:
                self.armed = False
                self.hit.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
            return reply

        handler.handle_DATA = handle_DATA

    def arm(self):
        self.hit.clear()
        self.release.clear()
        self.armed = True

    def disarm(self):
        self.armed = False
        self.release.set()


def sink_snapshot(sink):
    """[(monotonic arrival, order number or None, recipient)] of every message received so far."""
    with sink.lock:
        pairs = list(zip(sink.messages.times, list(sink.messages)))
    rows = []
    for arrived, message in pairs:
        match = re.search(r"order (\d+) confirmed", str(message["Subject"]))
        rows.append((arrived, int(match.group(1)) if match else None, str(message["To"] or ""),
                     str(message["Message-ID"] or "")))
    return rows


# --- The database -------------------------------------------------------------------------------------

class Database:
    """The soak's own database: a fresh SQLite file, or a PostgreSQL database created and dropped here."""

    def __init__(self, url, workdir, force_recreate=False):
        self.created = False
        if url is None:
            self.kind = "sqlite"
            self.path = Path(workdir) / "soak.sqlite3"
            self.url = f"sqlite:///{self.path}"
            return
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
            raise SystemExit(f"--database-url: only PostgreSQL URLs are accepted (got {parts.scheme}://)")
        self.kind = "postgresql"
        self.url = url
        self.name = parts.path.lstrip("/")
        if not self.name or not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
            raise SystemExit(f"--database-url: unusable database name {self.name!r}")
        self.force_recreate = force_recreate
        self.connect_args = {
            "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
            "user": urllib.parse.unquote(parts.username) if parts.username else None,
            "password": urllib.parse.unquote(parts.password) if parts.password else None,
        }

    def _pg(self, dbname):
        import psycopg
        args = {key: value for key, value in self.connect_args.items() if value is not None}
        return psycopg.connect(dbname=dbname, connect_timeout=5, autocommit=True, **args)

    def create(self):
        if self.kind == "sqlite":
            return
        with self._pg("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone()
            if exists:
                if "soak" not in self.name and not self.force_recreate:
                    raise SystemExit(f"database {self.name} exists; the soak drops and recreates its database, "
                                     "so it only does that to a name containing 'soak' (or with --force-recreate)")
                log(f"database {self.name} exists (left over from an earlier soak): dropping it")
                conn.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def drop(self):
        if self.kind == "sqlite" or not self.created:
            return
        try:
            with self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as error:  # cleanup must go on
            log(f"could not drop database {self.name}: {error}")

    def query(self, sql):
        if self.kind == "sqlite":
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=20)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        with self._pg(self.name) as conn:
            return conn.execute(sql).fetchall()

    def confirmation_summary(self):
        rows = self.query("SELECT confirmation_status, COUNT(*), COALESCE(SUM(confirmation_attempts), 0) "
                          "FROM orders_order GROUP BY confirmation_status")
        by_status = {status: count for status, count, _ in rows}
        attempts = {status: int(total) for status, _, total in rows}
        retried = self.query("SELECT COUNT(*) FROM orders_order WHERE confirmation_attempts > 1")[0][0]
        return {"orders": sum(by_status.values()), "by_status": by_status, "attempts_by_status": attempts,
                "orders_with_more_than_one_attempt": retried}

    def orders_with_attempts(self, minimum=2):
        return [row[0] for row in self.query(
            f"SELECT id FROM orders_order WHERE confirmation_attempts >= {int(minimum)} ORDER BY id")]


PREPARE_CATALOG = """
import json
from shop.models import Product
Product.objects.update(stock=1_000_000_000, available=True)
print("SOAK_PRODUCTS=" + json.dumps(list(Product.objects.filter(available=True).values_list("id", flat=True))))
"""


# --- Shoppers -----------------------------------------------------------------------------------------

class Run:
    """Shared state of one soak run."""

    def __init__(self, total, clock, duration):
        self.total = total
        self.interval = duration / total  # checkouts start no faster than this (0: as fast as possible)
        self.clock = clock  # monotonic time of the drive's start
        self.lock = threading.Lock()
        self.progress = threading.Condition(self.lock)
        self.next_index = 0
        self.placed = 0
        self.done = 0
        self.results = []  # one dict per attempted checkout
        self.events = []  # (seconds since start, what)
        self.stop = threading.Event()
        self.outage = {}  # monotonic: down_begin, down, up_begin, up
        self.kill = {}

    def event(self, what):
        with self.lock:
            self.events.append((round(time.monotonic() - self.clock, 3), what))
        log(what)

    def take_index(self):
        """The next order's index (1..N), once its slot in the schedule came; None when all are taken."""
        with self.lock:
            if self.next_index >= self.total or self.stop.is_set():
                return None
            self.next_index += 1
            index = self.next_index
        slot = self.clock + (index - 1) * self.interval
        while not self.stop.is_set() and time.monotonic() < slot:
            self.stop.wait(min(0.5, slot - time.monotonic()))
        return None if self.stop.is_set() else index

    def record(self, result):
        with self.progress:
            self.results.append(result)
            self.done += 1
            if result["placed"]:
                self.placed += 1
            self.progress.notify_all()

    def wait_placed(self, fraction):
        """Wait until `fraction` of the orders are placed (or every checkout finished); False if stopped."""
        target = max(1, round(self.total * fraction))
        with self.progress:
            while self.placed < target and self.done < self.total and not self.stop.is_set():
                self.progress.wait(0.2)
        return not self.stop.is_set()


def shopper_loop(run, base_url, products, seed):
    rng = random.Random(seed)
    while not run.stop.is_set():
        index = run.take_index()
        if index is None:
            return
        email = f"soak+{index}@example.com"
        result = {"index": index, "email": email, "placed": False, "status": None, "order": None,
                  "start": None, "end": None, "seconds": None}
        try:
            shopper = Shopper(base_url)
            for product_id in rng.sample(products, rng.randint(1, min(3, len(products)))):
                status = shopper.add_to_cart(product_id, rng.randint(1, 2))
                if status != 302:
                    result["status"] = f"cart-{status}"
                    break
            else:
                customer = {"first_name": rng.choice(FIRST_NAMES), "last_name": rng.choice(LAST_NAMES),
                            "email": email, "address": f"{index} Soak Street", "postal_code": "10115",
                            "city": "Berlin"}
                result["start"] = time.monotonic()
                status, location, body, seconds = shopper.checkout(customer)
                result["end"] = result["start"] + seconds
                result["seconds"] = seconds
                result["status"] = str(status)
                if status == 302 and location == "/orders/created/":
                    result["placed"] = True
                    match = ORDER_NUMBER.search(shopper.confirmation_page())
                    result["order"] = int(match.group(1)) if match else None
                elif status != 302:
                    result["body"] = body[:300]
                else:
                    result["status"] = f"302->{location}"
        except Exception as error:  # a refused connection, a timeout: counted as a failed checkout
            result["status"] = f"error-{type(error).__name__}"
            result["error"] = str(error)[:300]
            if result["start"] is not None and result["end"] is None:
                result["end"] = time.monotonic()
                result["seconds"] = result["end"] - result["start"]
        run.record(result)


# --- Chaos --------------------------------------------------------------------------------------------

class LogTail:
    """Follows a worker's log and tells whether an order_created task is running in it right now."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = ""
        self.inflight = set()

    def busy(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        text = self.partial + chunk.decode(errors="replace")
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            match = TASK_LINE.search(line)
            if match:
                task_id, what = match.groups()
                if what == "received":
                    self.inflight.add(task_id)
                else:
                    self.inflight.discard(task_id)
        return bool(self.inflight)


def _process_group(pgid):
    """Pids of the processes in process group `pgid` (a worker and its pool children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def holds_connection_to(pgid, port):
    """True if a process of group `pgid` has a TCP connection open to 127.0.0.1:`port` (read from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in _process_group(pgid):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                        return True
                except OSError:
                    continue
        except OSError:
            continue
    return False


def wait_for_kill_point(mode, run, sink, victim, deadline):
    """Block until `victim` is at the kill point asked for; return a description, or None on timeout."""
    tail = LogTail(victim.log_path)
    tail.busy()  # skip what already finished
    if mode == "busy":
        while time.monotonic() < deadline and not run.stop.is_set():
            if tail.busy():
                return f"running task {', '.join(sorted(tail.inflight))}"
            time.sleep(0.005)
        return None
    if mode == "after-email":
        # The SMTP server has recorded the victim's email and holds its "250 accepted" reply: the email is
        # delivered, the worker does not know it yet and has not recorded "sent".
        trap = sink.data_trap
        while time.monotonic() < deadline and not run.stop.is_set():
            trap.arm()
            while not trap.hit.wait(0.1):
                if time.monotonic() > deadline or run.stop.is_set():
                    trap.disarm()
                    return None
            if holds_connection_to(victim.pid, sink.port):
                number = sink_snapshot(sink)[-1][1]
                return f"after-email: order {number}'s email recorded by the SMTP server, its 250 reply held"
            trap.release.set()  # another worker's email: let it through
        trap.disarm()
        return None
    # mid-email: the next SMTP conversation hangs after MAIL FROM; if it is the victim's, that is the kill
    # point (the order is claimed, the email not yet accepted); otherwise let it go and try again.
    while time.monotonic() < deadline and not run.stop.is_set():
        sink.stalled.clear()
        sink.release.clear()
        with sink.lock:
            sink.stall_next = 1
        while not sink.stalled.wait(0.1):
            if time.monotonic() > deadline or run.stop.is_set():
                with sink.lock:
                    sink.stall_next = 0
                sink.release.set()
                return None
        if holds_connection_to(victim.pid, sink.port):
            return "mid-email (its SMTP conversation held open by the server)"
        sink.release.set()  # another worker's conversation: let it through
        time.sleep(0.2)  # the handler polls `release` every 50 ms; let it see it before it is cleared again
    return None


def chaos(run, node, sink, workers, start_replacement, kill_point):
    try:
        if not run.wait_placed(OUTAGE_AT):
            return
        run.outage["down_begin"] = time.monotonic()
        run.event(f"FAULT broker down: stop_app at {run.placed} orders placed")
        node.stop_app()
        run.outage["down"] = time.monotonic()
        run.event("broker port closed")
        run.stop.wait(OUTAGE_SECONDS)
        run.outage["up_begin"] = time.monotonic()
        node.start_app()
        run.outage["up"] = time.monotonic()
        run.event(f"broker back: start_app done, {run.placed} orders placed")

        if not run.wait_placed(KILL_AT):
            return
        victim = workers["plain"]
        run.event(f"waiting for worker {victim.name} to reach the kill point ({kill_point}); "
                  f"{run.placed} placed")
        where = wait_for_kill_point(kill_point, run, sink, victim, time.monotonic() + BUSY_WAIT_MAX)
        if run.stop.is_set():
            return
        run.kill["at"] = time.monotonic()
        victim.kill(signal.SIGKILL)
        sink.release.set()  # a held conversation (mid-email) ends with its client gone
        sink.data_trap.disarm()  # likewise a held DATA reply (after-email)
        run.kill.update(worker=victim.name, mode=kill_point, busy=where is not None,
                        where=where or f"not seen at the kill point within {BUSY_WAIT_MAX:.0f} s: killed anyway",
                        emails_received_before=len(sink.messages))
        run.event(f"FAULT SIGKILL worker {victim.name} (process group): {run.kill['where']}")
        run.stop.wait(REPLACEMENT_AFTER)
        if run.stop.is_set():
            return
        run.kill["replacement_begin"] = time.monotonic()
        workers["replacement"] = start_replacement()
        run.kill["replacement_ready"] = time.monotonic()
        run.event(f"replacement worker {workers['replacement'].name} ready")
    except Exception:
        run.chaos_error = traceback.format_exc()
        log(f"chaos thread failed:\n{run.chaos_error}")


# --- Report -------------------------------------------------------------------------------------------

def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def latency(values):
    return {"count": len(values), "p50": rounded(percentile(values, 0.50)),
            "p95": rounded(percentile(values, 0.95)), "max": rounded(max(values) if values else None)}


def rounded(value, digits=3):
    return None if value is None else round(value, digits)


CONNECTED_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] Connected to amqp")


def worker_reconnections(run, log_paths):
    """{worker log name: seconds since start} of each worker's first broker connection after the outage began.

    Worker logs are stamped in the shop's TIME_ZONE (UTC unless set), which Django puts into the process's TZ.
    """
    if "down_begin" not in run.outage:
        return {}
    down_wall = run.wall_clock + (run.outage["down_begin"] - run.clock)
    found = {}
    for path in log_paths:
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            match = CONNECTED_LINE.match(line)
            if not match:
                continue
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc)
            if stamp.timestamp() > down_wall:
                found[Path(path).stem] = round(stamp.timestamp() - run.wall_clock, 3)
                break
    return found


def build_report(args, run, sink_rows, db_summary, wall, settle, database_kind, log_dir):
    clock = run.clock
    results = sorted(run.results, key=lambda r: r["index"])
    placed = [r for r in results if r["placed"]]
    failures = Counter(r["status"] for r in results if not r["placed"])
    placed_numbers = {r["order"]: r for r in placed if r["order"] is not None}
    unread_numbers = sum(1 for r in placed if r["order"] is None)

    first_email, counts = {}, Counter()
    unknown, misaddressed = Counter(), []
    message_ids = {}
    other_emails = 0
    for arrived, number, recipient, message_id in sink_rows:
        if number is None:  # not an order confirmation (a shipping notice, say): no shop should send one here
            other_emails += 1
            continue
        if number not in placed_numbers:
            unknown[number] += 1
            continue
        counts[number] += 1
        message_ids.setdefault(number, set()).add(message_id)
        first_email.setdefault(number, arrived)
        if recipient != placed_numbers[number]["email"]:
            misaddressed.append(number)
    duplicates = sum(count - 1 for count in counts.values())
    duplicated_orders = sorted(number for number, count in counts.items() if count > 1)
    lost = sorted(number for number in placed_numbers if number not in counts)

    outage = run.outage
    during = []
    if "down_begin" in outage:
        outage_end = outage.get("up", float("inf"))
        during = [r for r in results if r["start"] is not None and outage["down_begin"] <= r["start"] <= outage_end]
    outage_orders = [r["order"] for r in during if r["placed"] and r["order"] is not None]
    recover = None
    if "up" in outage and outage_orders and all(n in first_email for n in outage_orders):
        recover = max(first_email[n] for n in outage_orders) - outage["up"]

    last_placed = max((r["end"] for r in placed), default=None)
    settle_seconds = None
    if last_placed is not None and placed_numbers and not lost:
        settle_seconds = max(first_email[n] for n in placed_numbers) - last_placed

    kill = run.kill
    kill_report = None
    if "at" in kill:
        kill_report = {
            "worker": kill["worker"], "at_seconds": rounded(kill["at"] - clock), "mode": kill["mode"],
            "at_kill_point": kill["busy"], "where": kill["where"],
            "replacement_ready_at_seconds": rounded(kill["replacement_ready"] - clock)
            if "replacement_ready" in kill else None,
        }
    report = {
        "started_at": run.started_at,
        "database": database_kind,
        "config": {"orders": args.orders, "shoppers": args.shoppers, "settle_timeout": args.settle_timeout,
                   "seed": args.seed, "duration": args.duration,
                   "kill_point": args.kill_point,
                   **FAST_SETTINGS},
        "orders_attempted": len(results),
        "orders_placed": len(placed),
        "checkout_errors": sum(failures.values()),
        "checkout_error_statuses": dict(failures),
        "placed_without_readable_number": unread_numbers,
        "emails_sent": len(counts),
        "emails_total": len(sink_rows),
        "duplicates": duplicates,
        "duplicated_orders": duplicated_orders,
        # The shop gives every attempt for an order the same Message-ID, so mail clients can fold duplicates.
        "duplicates_sharing_message_id": sum(1 for n in duplicated_orders if len(message_ids[n]) == 1),
        "lost": len(lost),
        "lost_orders": lost,
        "emails_for_unknown_orders": sum(unknown.values()),
        "unknown_order_numbers": sorted(str(n) for n in unknown),
        "misaddressed_emails": len(misaddressed),
        "other_emails": other_emails,
        "checkout_latency_seconds": latency([r["seconds"] for r in placed]),
        "checkout_latency_during_outage_seconds": latency([r["seconds"] for r in during if r["seconds"] is not None]),
        "orders_placed_during_outage": len(outage_orders),
        "outage": {
            "down_at_seconds": rounded(outage["down_begin"] - clock) if "down_begin" in outage else None,
            "port_closed_at_seconds": rounded(outage["down"] - clock) if "down" in outage else None,
            "up_at_seconds": rounded(outage["up"] - clock) if "up" in outage else None,
        },
        "worker_kill": kill_report,
        "time_to_recover_seconds": rounded(recover),
        "settle_seconds": rounded(settle_seconds),
        "settled": settle["settled"],
        "settle_wait_seconds": rounded(settle["waited"]),
        "drive_seconds": rounded(last_placed - clock) if last_placed else None,
        "wall_seconds": rounded(wall),
        "database_confirmations": db_summary,
        "events": [{"t": t, "what": what} for t, what in run.events],
        "log_dir": str(log_dir),
    }
    if getattr(run, "chaos_error", None):
        report["chaos_error"] = run.chaos_error
    report["ok"] = (report["orders_placed"] == report["orders_attempted"] == args.orders
                    and duplicates == 0 and not lost and not unread_numbers)
    report["verdict"] = (f"{report['orders_placed']} / {report['emails_sent']} / {duplicates} / {len(lost)}"
                         f" (target {args.orders} / {args.orders} / 0 / 0)")
    return report


def table(report):
    def fmt(value, unit=""):
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.3f}{unit}"
        return f"{value}{unit}"

    def lat(stats):
        if not stats["count"]:
            return "n/a (no checkouts)"
        return f"p50 {fmt(stats['p50'], ' s')}  p95 {fmt(stats['p95'], ' s')}  max {fmt(stats['max'], ' s')}" \
               f"  (n={stats['count']})"

    errors = report["checkout_errors"]
    if errors:
        errors = f"{errors}  " + ", ".join(f"{status}: {count}" for status, count
                                           in sorted(report["checkout_error_statuses"].items()))
    kill = report["worker_kill"]
    rows = [
        ("database", report["database"]),
        ("orders attempted", report["orders_attempted"]),
        ("orders placed (302)", report["orders_placed"]),
        ("checkout errors", errors),
        ("emails sent (distinct orders)", report["emails_sent"]),
        ("emails received in total", report["emails_total"]),
        ("duplicates", f"{report['duplicates']}" + (
            f"  orders {report['duplicated_orders']} ({report['duplicates_sharing_message_id']} of them with "
            f"one Message-ID for all copies)" if report["duplicated_orders"] else "")),
        ("lost", f"{report['lost']}" + (f"  orders {report['lost_orders']}" if report["lost_orders"] else "")),
        ("emails for unknown orders", report["emails_for_unknown_orders"]),
        ("misaddressed emails", report["misaddressed_emails"]),
        ("other (non-confirmation) emails", report["other_emails"]),
        ("checkout latency", lat(report["checkout_latency_seconds"])),
        ("checkout latency, broker down", lat(report["checkout_latency_during_outage_seconds"])),
        ("orders placed while broker down", report["orders_placed_during_outage"]),
        ("broker down / back at", f"{fmt(report['outage']['down_at_seconds'], ' s')} / "
                                  f"{fmt(report['outage']['up_at_seconds'], ' s')}"),
        ("workers back on the broker at", ", ".join(
            f"{name} {fmt(t, ' s')}" for name, t in report["outage"].get("workers_reconnected_at_seconds", {}).items())
         or "n/a"),
        ("worker killed at", "n/a" if kill is None else
         f"{fmt(kill['at_seconds'], ' s')} ({kill['worker']}, {kill['where']}; "
         f"replacement ready at {fmt(kill['replacement_ready_at_seconds'], ' s')})"),
        ("time to recover (broker back -> last outage order emailed)", fmt(report["time_to_recover_seconds"], " s")),
        ("settle time (last order placed -> last order emailed)", fmt(report["settle_seconds"], " s")),
        ("settled (all emailed, none pending, queue empty)", "yes" if report["settled"] else "NO"),
        ("orders placed in", fmt(report["drive_seconds"], " s")),
        ("total wall time", fmt(report["wall_seconds"], " s")),
        ("database: confirmation status", ", ".join(f"{k}={v}" for k, v in
                                                    sorted(report["database_confirmations"]["by_status"].items()))
         if report["database_confirmations"] else "n/a"),
        ("database: orders with >1 attempt", report["database_confirmations"]["orders_with_more_than_one_attempt"]
         if report["database_confirmations"] else "n/a"),
        ("RESULT placed / emailed / duplicates / lost", report["verdict"] + ("  OK" if report["ok"] else "  FAIL")),
    ]
    width = max(len(label) for label, _ in rows)
    line = "-" * min(110, width + 2 + max(len(str(value)) for _, value in rows))
    out = [line, "myshop soak", line]
    out += [f"{label.ljust(width)}  {value}" for label, value in rows]
    out.append(line)
    return "\n".join(out)


# --- Main ---------------------------------------------------------------------------------------------

def settle_system(run, sink, node, database, timeout):
    """Wait until every placed order has an email, nothing is pending or being sent, and the queue is empty."""
    started = time.monotonic()
    deadline = started + timeout
    placed = {r["order"] for r in run.results if r["placed"] and r["order"] is not None}
    all_emailed_at = None
    last_note = 0
    while True:
        now = time.monotonic()
        emailed = {row[1] for row in sink_snapshot(sink)}
        missing = placed - emailed
        if not missing and all_emailed_at is None:
            all_emailed_at = now
            log(f"every placed order has an email ({now - started:.1f} s after the drive)")
        state = None
        if not missing:
            try:
                summary = database.confirmation_summary()["by_status"]
                open_ = summary.get("pending", 0) + summary.get("sending", 0)
                depth = node.queue_depth("celery")
                state = (open_, depth)
                if open_ == 0 and depth == 0:
                    return {"settled": True, "waited": now - started}
            except Exception as error:
                state = f"error {error}"
        if now > deadline:
            log(f"settle timeout: {len(missing)} placed order(s) without an email, state {state}")
            return {"settled": False, "waited": now - started}
        if now - last_note > 10:
            last_note = now
            log(f"settling: {len(missing)} placed order(s) without an email yet"
                + (f", (pending+sending, queue depth) = {state}" if state else ""))
        time.sleep(0.5 if missing else 1.0)


def log_problems(paths):
    """Lines worth a look in the logs: errors, warnings, tracebacks."""
    interesting = re.compile(r"ERROR|CRITICAL|Traceback|WARNING|FAILED|Restoring|Unacked|lost|WorkerLost")
    found = {}
    for path in paths:
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [line for line in lines if interesting.search(line)]
        if hits:
            found[Path(path).name] = {"count": len(hits), "sample": hits[:8]}
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders to place (default 200)")
    parser.add_argument("--shoppers", type=int, default=4, help="concurrent shopper threads (default 4)")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL of a database the soak creates and drops (default: a fresh SQLite "
                             "file in a temporary directory)")
    parser.add_argument("--json", default=str(ROOT / "var" / "soak.json"), help="JSON report path "
                        "(default var/soak.json)")
    parser.add_argument("--settle-timeout", type=float, default=180.0,
                        help="seconds to wait for every order's email after the last order (default 180)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for carts (default: random)")
    parser.add_argument("--duration", type=float, default=40.0,
                        help="spread the checkouts over about this many seconds, so that both faults hit while "
                             "shoppers are ordering (default 40; 0: as fast as the shop answers)")
    parser.add_argument("--kill-point", choices=["mid-email", "after-email", "busy"], default="mid-email",
                        help="when the worker is killed: during its SMTP conversation (default), once the SMTP "
                             "server has recorded its email but not yet answered, or as soon as it is seen "
                             "running a task")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    parser.add_argument("--force-recreate", action="store_true",
                        help="allow dropping an existing PostgreSQL database whose name lacks 'soak'")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.shoppers < 1 or args.duration < 0:
        parser.error("--orders and --shoppers must be at least 1, --duration not negative")
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return args


def main(argv=None):
    args = parse_args(argv)
    wall_start = time.monotonic()

    def on_sigterm(signum, frame):
        raise Interrupted()

    signal.signal(signal.SIGTERM, on_sigterm)

    workdir = Path(tempfile.mkdtemp(prefix="myshop-soak-"))
    log_dir = workdir / "logs"
    log_dir.mkdir()
    database = Database(args.database_url, workdir, args.force_recreate)
    node = sink = web = None
    workers = {}
    run = None
    threads = []
    report = None
    keep = args.keep
    try:
        log(f"working directory {workdir} (seed {args.seed})")
        node = RabbitNode(name=f"myshop-soak-{os.getpid()}@localhost")
        log(f"starting a private RabbitMQ node {node.name} on port {node.port}")
        node.start()
        sink = SmtpSink()
        sink.messages = TimedList()
        sink.data_trap = DataTrap(sink)
        sink.start()
        database.create()
        env = shop_environment(database=database.url, broker=node.url, smtp_port=sink.port,
                               CELERY_BEAT_SCHEDULE_FILENAME=str(workdir / "celerybeat-schedule"),
                               **FAST_SETTINGS)
        log(f"database ({database.kind}): migrate, load_demo_catalog, unlimited stock")
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo_catalog")
        output = manage(env, "shell", "-c", PREPARE_CATALOG)
        products = json.loads(output.split("SOAK_PRODUCTS=", 1)[1].splitlines()[0])
        if not products:
            raise RuntimeError("no available products after load_demo_catalog")

        log("starting web server and workers")
        web = start_web(env, log_dir)
        workers["beat"] = start_worker(env, log_dir, name="soak-beat", beat=True)
        workers["plain"] = start_worker(env, log_dir, name="soak-plain", beat=False)
        log(f"web at {web.base_url}; workers ready; placing {args.orders} orders with {args.shoppers} shoppers")

        run = Run(args.orders, time.monotonic(), args.duration)
        run.wall_clock = time.time()  # the wall-clock time of run.clock, to read the workers' log stamps
        run.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rng = random.Random(args.seed)
        for number in range(args.shoppers):
            thread = threading.Thread(target=shopper_loop, name=f"shopper-{number}",
                                      args=(run, web.base_url, products, rng.randrange(1 << 30)), daemon=True)
            threads.append(thread)
        chaos_thread = threading.Thread(
            target=chaos, name="chaos", daemon=True,
            args=(run, node, sink, workers,
                  lambda: start_worker(env, log_dir, name="soak-replacement", beat=False), args.kill_point))
        for thread in threads + [chaos_thread]:
            thread.start()
        last_note = 0
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.5)
            if time.monotonic() - last_note > 5:
                last_note = time.monotonic()
                log(f"progress: {run.done}/{args.orders} checkouts, {run.placed} placed, "
                    f"{len(sink.messages)} emails")
        run.event(f"all checkouts done: {run.placed}/{args.orders} placed")
        while chaos_thread.is_alive():
            chaos_thread.join(0.5)

        settle = settle_system(run, sink, node, database, args.settle_timeout)
        log(f"waiting {LATE_DUPLICATE_WAIT:.0f} s for late duplicates")
        time.sleep(LATE_DUPLICATE_WAIT)
        db_summary = None
        try:
            db_summary = database.confirmation_summary()
        except Exception as error:
            log(f"could not read the database summary: {error}")
        report = build_report(args, run, sink_snapshot(sink), db_summary, time.monotonic() - wall_start,
                              settle, database.kind, log_dir)
        logs = [web.log_path] + [w.log_path for w in workers.values()]
        report["outage"]["workers_reconnected_at_seconds"] = worker_reconnections(
            run, [w.log_path for name, w in workers.items() if name != "replacement"])
        report["log_findings"] = log_problems(logs)
        report["logs"] = [str(path) for path in logs]
        if db_summary and db_summary["orders_with_more_than_one_attempt"]:
            report["database_orders_with_more_than_one_attempt"] = database.orders_with_attempts(2)[:50]
        if not report["ok"]:
            keep = True  # the logs are the evidence
    except (KeyboardInterrupt, Interrupted):
        log("interrupted: cleaning up")
        if run is not None:
            run.stop.set()
        return 130
    except Exception:
        log(f"soak failed:\n{traceback.format_exc()}")
        keep = keep or bool(workers)
        if run is not None:
            run.stop.set()
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
        if node is not None:
            node.stop()
        if sink is not None:
            sink.stop()
        database.drop()
        if keep:
            log(f"kept {workdir}" + (f"; logs in {log_dir}" if workers else ""))
            if workers and (report is None or not report["ok"]):
                for process in list(workers.values()) + ([web] if web else []):
                    log(f"  {process.name} log: {process.log_path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    if not keep:  # removed with the temporary directory
        report["log_dir"] = None
        report["logs"] = []
    print(table(report))
    if not report["ok"]:
        print("NOT N/N/0/0: the logs are kept for inspection:")
        for path in report["logs"]:
            print(f"  {path}")
    text = json.dumps(report, indent=2, sort_keys=False)
    print(text)
    json_path = Path(args.json)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(text + "\n")
    log(f"JSON written to {json_path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
