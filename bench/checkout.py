#!/usr/bin/env python
"""Checkout benchmark: what handing the confirmation email to the broker costs the checkout request.

    .venv/bin/python bench/checkout.py                         # the full run, 2-4 min on a 2-core machine
    .venv/bin/python bench/checkout.py --requests-per-shopper 3 --min-requests 40 --backlog 40   # ~40 s smoke run

A script, not a test. Everything runs for real on this machine:
  - a fresh PostgreSQL database (default myshop_bench on postgres://postgres@127.0.0.1:5432, created here
    and dropped at the end), migrated, with the demo catalog and a stock of 10**9 for every product;
  - a dedicated RabbitMQ vhost (default myshop-bench on the local broker, created with rabbitmqctl and
    deleted at the end), so the shared default vhost and its queues are never touched;
  - the shop under gunicorn (sync workers, production settings, STATIC_MANIFEST=1, CONN_MAX_AGE=60) with
    ORDERS_BENCHMARK_FLOOR=1, which adds POST /orders/create-floor/: the same checkout view, the same
    session/cart/database work in the same transaction, but no hand-over to the broker;
  - a Celery worker (prefork) with a mail backend that costs ~nothing (Django's dummy backend).

Load comes from a second process (this script in --driver mode) over loopback: N shopper threads, each a
bounded loop of  GET / (catalog page) -> POST /cart/add/<id>/ (1-2 random products from that page) -> POST
the checkout (/orders/create/ or /orders/create-floor/). Only the checkout POST is timed for the checkout
columns; the catalog page's latency is an extra column.

Phases, in this order:
  1. warm-up (not measured);
  2. for each concurrency level (default 1, 8, 32): the floor and the real checkout, back to back in
     --rounds rounds whose order alternates (floor/checkout, checkout/floor, ...) so drift on a shared
     machine hits both alike; between levels the worker's backlog is left to drain;
  3. order -> email latency: confirmation_sent_at - created of every order placed by the real checkout in
     phase 2, from the database (floor orders owe no email: they are never handed over);
  4. worker throughput: the worker is stopped, --backlog orders are placed (their messages wait in the
     queue), a worker is started, and emails/s = (M - 1) / (last sent_at - first sent_at) over those M
     orders: the worker draining a full queue, with nothing else running;
  5. slow mail: the 8-shopper real checkout once more, in the order fast, slow, slow, fast: "fast" with the
     dummy-backend worker (the reference, measured in the same run), "slow" with a worker whose mail backend
     takes 2 s per email (bench.slow_email); the ratio of the two checkout p95s.

It prints a table, the ratios against the targets, and the JSON (also written to --json). Everything it
started or created is removed in `finally`, also on Ctrl-C / SIGTERM: driver, gunicorn, worker, vhost,
database, and the temporary directory with the logs (kept, and its path printed, on failure or --keep).
"""
import argparse
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import subprocess
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
    Process,
    Shopper,
    free_port,
    manage,
    port_answers,
    shop_environment,
    start_worker,
    wait_until,
)

FAST_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
SLOW_EMAIL_BACKEND = "bench.slow_email.SlowEmailBackend"
CHECKOUT_PATH = "/orders/create/"
FLOOR_PATH = "/orders/create-floor/"
ENDPOINTS = {"checkout": CHECKOUT_PATH, "floor": FLOOR_PATH}
PRODUCT_LINK = re.compile(r'href="/product/(\d+)/')
TAG = re.compile(r"[a-z0-9-]+")

TARGET_THROUGHPUT_RATIO = 1.5  # floor / checkout throughput at 8 shoppers
TARGET_EMAIL_P50_MS = 100.0
TARGET_SLOW_RATIO = 1.1  # checkout p95 with 2 s emails / with fast emails

FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]

PREPARE_CATALOG = """
import json
from shop.models import Product
Product.objects.update(stock=10**9, available=True)
print("BENCH_PRODUCTS=" + json.dumps(list(Product.objects.filter(available=True).values_list("id", flat=True))))
"""


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C."""


def percentile(values, fraction):
    """Linear-interpolation percentile (numpy's default) of a non-empty list; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def latency_summary(seconds):
    return {"n": len(seconds), "p50_ms": ms(percentile(seconds, 0.50)), "p95_ms": ms(percentile(seconds, 0.95)),
            "p99_ms": ms(percentile(seconds, 0.99)), "max_ms": ms(max(seconds) if seconds else None)}


# --- The load driver (a separate process) ---------------------------------------------------------

def shopper_loop(command, index, barrier, out):
    rng = random.Random(command["seed"] * 1000 + index)
    shopper = Shopper(command["base_url"])
    path = command["path"]
    timings = {"catalog": [], "cart": [], "checkout": []}
    ends = []  # perf_counter at the end of each successful checkout
    errors = Counter()
    try:
        shopper._csrf()  # the first visit's CSRF cookie (GET /admin/login/), outside the measurement
    except Exception as error:
        errors[f"prime-{type(error).__name__}"] += 1
    barrier.wait()
    for loop in range(command["loops"]):
        try:
            started = time.perf_counter()
            status, _, body = shopper.request("GET", "/")
            timings["catalog"].append(time.perf_counter() - started)
            if status != 200:
                errors[f"catalog-{status}"] += 1
                continue
            on_page = sorted({int(pid) for pid in PRODUCT_LINK.findall(body)}) or command["products"]
            for product_id in rng.sample(on_page, min(len(on_page), rng.randint(1, 2))):
                started = time.perf_counter()
                status = shopper.add_to_cart(product_id, rng.randint(1, 2))
                timings["cart"].append(time.perf_counter() - started)
                if status != 302:
                    errors[f"cart-{status}"] += 1
            customer = {"first_name": rng.choice(FIRST_NAMES), "last_name": rng.choice(LAST_NAMES),
                        "email": f"bench+{command['tag']}-{index}-{loop}@example.com",
                        "address": f"{loop} Bench Street", "postal_code": "10115", "city": "Berlin"}
            started = time.perf_counter()
            status, location, _ = shopper.request("POST", path, customer)
            finished = time.perf_counter()
            if status == 302 and location == "/orders/created/":
                timings["checkout"].append(finished - started)
                ends.append(finished)
            else:
                errors[f"checkout-{status}-{location}"] += 1
        except Exception as error:  # a refused connection, a timeout: counted, the loop goes on
            errors[f"error-{type(error).__name__}"] += 1
    out[index] = {"timings": timings, "ends": ends, "errors": errors, "finished": time.perf_counter()}


def run_phase(command):
    """One phase: `concurrency` shoppers, `loops` each, against one checkout path; a JSON-able result."""
    concurrency = command["concurrency"]
    barrier = threading.Barrier(concurrency + 1)
    out = {}
    threads = [threading.Thread(target=shopper_loop, args=(command, index, barrier, out), daemon=True)
               for index in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    cpu_started = time.process_time()
    for thread in threads:
        thread.join()
    finished = time.perf_counter()
    driver_cpu = time.process_time() - cpu_started
    results = [out[index] for index in range(concurrency) if index in out]
    merged = {name: [t for r in results for t in r["timings"][name]] for name in ("catalog", "cart", "checkout")}
    errors = sum((r["errors"] for r in results), Counter())
    # Throughput while all N shoppers were still shopping (a closed loop thins out at its very end):
    # checkouts completed before the first shopper finished its loops, over that time.
    first_done = min((r["finished"] for r in results), default=finished)
    steady = sum(1 for r in results for end in r["ends"] if end <= first_done)
    steady_seconds = first_done - started
    return {
        "tag": command["tag"], "path": command["path"], "concurrency": concurrency, "loops": command["loops"],
        "checkout_s": merged["checkout"], "catalog_s": merged["catalog"], "cart_s": merged["cart"],
        "ok": len(merged["checkout"]), "errors": dict(errors), "wall_s": finished - started,
        "driver_cpu_s": driver_cpu,
        "steady_checkouts": steady, "steady_s": steady_seconds,
        "throughput": steady / steady_seconds if steady_seconds > 0 and steady else
        (len(merged["checkout"]) / (finished - started) if finished > started else 0.0),
        "throughput_overall": len(merged["checkout"]) / (finished - started) if finished > started else 0.0,
    }


def driver_main():
    """--driver: read one JSON phase per line on stdin, answer one JSON result per line on stdout."""
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_phase(json.loads(line))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


class Driver:
    """The load driver subprocess, seen from the orchestrating process."""

    def __init__(self):
        self.popen = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--driver"], cwd=ROOT,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      start_new_session=True)

    def run(self, *, base_url, endpoint, concurrency, loops, tag, products, seed):
        if not TAG.fullmatch(tag):
            raise ValueError(f"bad tag {tag!r}")
        command = {"base_url": base_url, "path": ENDPOINTS[endpoint], "concurrency": concurrency,
                   "loops": loops, "tag": tag, "products": products, "seed": seed}
        self.popen.stdin.write(json.dumps(command) + "\n")
        self.popen.stdin.flush()
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the load driver exited (code {self.popen.poll()})")
        result = json.loads(line)
        result["endpoint"] = endpoint
        return result

    def stop(self):
        if self.popen.poll() is None:
            try:
                self.popen.stdin.close()
                self.popen.wait(timeout=5)
            except Exception:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)


# --- The services: a database and a vhost of our own -------------------------------------------------

class Database:
    """A PostgreSQL database created here (dropped first if left over) and dropped at the end."""

    def __init__(self, url, keep=False):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
            raise SystemExit(f"--database-url: only PostgreSQL URLs are accepted (got {parts.scheme}://)")
        self.name = parts.path.lstrip("/")
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.name or ""):
            raise SystemExit(f"--database-url: unusable database name {self.name!r}")
        if "bench" not in self.name:
            raise SystemExit("--database-url: the benchmark creates and drops its database, so its name must "
                             f"contain 'bench' (got {self.name!r})")
        self.url = url
        self.keep = keep
        self.created = False
        self.connect_args = {
            key: value for key, value in {
                "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
                "user": urllib.parse.unquote(parts.username) if parts.username else None,
                "password": urllib.parse.unquote(parts.password) if parts.password else None,
            }.items() if value is not None
        }

    def _connect(self, dbname):
        import psycopg
        return psycopg.connect(dbname=dbname, connect_timeout=5, autocommit=True, **self.connect_args)

    def create(self):
        with self._connect("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone():
                log(f"database {self.name} exists (left over from an earlier run): dropping it")
                conn.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')
            self.created = True
            return conn.execute("SHOW server_version").fetchone()[0]

    def drop(self):
        if not self.created or self.keep:
            return
        try:
            with self._connect("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            log(f"database {self.name} dropped")
        except Exception as error:  # cleanup goes on
            log(f"could not drop database {self.name}: {error}")

    def query(self, sql, params=None):
        with self._connect(self.name) as conn:
            return conn.execute(sql, params or []).fetchall()


class Vhost:
    """A RabbitMQ vhost of our own on the local node (rabbitmqctl), deleted at the end."""

    def __init__(self, broker_url, name):
        parts = urllib.parse.urlsplit(broker_url)
        self.name = name
        self.created = False
        if name:
            self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(name, safe=""),
                                                "", ""))
            self.user = urllib.parse.unquote(parts.username or "guest")
        else:  # --vhost '': the URL's own vhost, used as it is
            self.url = broker_url

    def _ctl(self, *args, check=True):
        return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=check)

    def create(self):
        if not self.name:
            return
        existing = self._ctl("list_vhosts", "-q").stdout.split()
        if self.name in existing:
            log(f"vhost {self.name} exists (left over from an earlier run): deleting it")
            self._ctl("delete_vhost", self.name)
        self._ctl("add_vhost", self.name)
        self.created = True
        self._ctl("set_permissions", "-p", self.name, self.user, ".*", ".*", ".*")

    def queue_depth(self, queue="celery"):
        if not self.name:
            return None
        result = self._ctl("list_queues", "-p", self.name, "-q", "name", "messages", check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def delete(self):
        if not self.created:
            return
        try:
            self._ctl("delete_vhost", self.name)
            log(f"vhost {self.name} deleted")
        except Exception as error:
            log(f"could not delete vhost {self.name}: {error}")


def stop_worker(process, timeout=30):
    """Warm shutdown: SIGTERM to the worker's main process only, which lets its running tasks finish and
    returns the rest to the broker. (Process.stop signals the whole process group: the pool children die
    mid-task, and their claimed orders then wait ORDER_EMAIL_CLAIM_SECONDS before another worker may send.)"""
    if process is None:
        return
    if process.popen.poll() is None:
        try:
            os.kill(process.pid, signal.SIGTERM)
            process.popen.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    process.kill()  # whatever is left of the group (nothing, normally); closes the log


def start_gunicorn(env, log_dir, workers):
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = Process("gunicorn", [str(gunicorn), "myshop.wsgi:application", "-b", f"127.0.0.1:{port}",
                                   "-w", str(workers), "--worker-class", "sync", "--timeout", "60",
                                   "--graceful-timeout", "5", "--backlog", "2048", "--no-control-socket"], env, log_dir)
    process.base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: port_answers(port) or process.popen.poll() is not None, timeout=60, what="gunicorn")
    if process.popen.poll() is not None:
        raise RuntimeError(f"gunicorn exited:\n{process.log()}")
    status = wait_until(lambda: Shopper(process.base_url).request("GET", "/")[0] == 200, timeout=30,
                        what="the catalog page")
    return process if status else None


# --- Measurements from the database -------------------------------------------------------------------

def email_latencies(db, tag_prefix):
    """created -> confirmation_sent_at, seconds, of the orders whose email carries `tag_prefix`; and how many
    of them are not sent."""
    rows = db.query("SELECT EXTRACT(EPOCH FROM (confirmation_sent_at - created)), confirmation_status "
                    "FROM orders_order WHERE email LIKE %s", [f"bench+{tag_prefix}%"])
    sent = [float(seconds) for seconds, status in rows if status == "sent" and seconds is not None]
    return sent, len(rows) - len(sent)


def wait_drained(db, timeout):
    """Wait until every order handed to the broker has its email sent; the number still owed."""
    sql = ("SELECT COUNT(*) FROM orders_order WHERE confirmation_queued_at IS NOT NULL "
           "AND confirmation_status <> 'sent'")
    deadline = time.monotonic() + timeout
    while True:
        owed = db.query(sql)[0][0]
        if owed == 0 or time.monotonic() > deadline:
            return owed
        time.sleep(0.2)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_snapshot(groups):
    """CPU seconds used so far: by each named process group ({name: pgid}), by every postgres and RabbitMQ
    (beam.smp) process on the machine (whoever they serve), and by the whole machine (/proc/stat busy time)."""
    used = {name: 0.0 for name in (*groups, "postgres", "rabbitmq")}
    by_pgid = {pgid: name for name, pgid in groups.items() if pgid}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        # utime + stime, plus cutime + cstime: the CPU of reaped children (a PostgreSQL backend that served
        # one connection and exited shows up in the postmaster's cutime)
        seconds = sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS
        name = by_pgid.get(int(fields[2]))
        if name is None:
            name = "postgres" if command.startswith("postgres") else "rabbitmq" if command == "beam.smp" else None
        if name is not None:
            used[name] += seconds
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        used["machine"] = (sum(values) - values[3] - values[4]) / CLOCK_TICKS  # minus idle and iowait
    except (OSError, IndexError, ValueError):
        used["machine"] = 0.0
    return used


def machine_info():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory": memory, "kernel": platform.release(),
            "python": platform.python_version(), "loadavg_start": list(os.getloadavg()),
            "note": "shared machine: other jobs may run; load, driver and servers share the same cores"}


def versions():
    found = {}
    for package in ("django", "celery", "kombu", "gunicorn", "psycopg"):
        try:
            from importlib.metadata import version
            found[package] = version(package)
        except Exception:
            found[package] = None
    return found


# --- The benchmark ------------------------------------------------------------------------------------

def summarise_rows(phases, levels):
    rows = []
    for concurrency in levels:
        for endpoint in ("checkout", "floor"):
            runs = [p for p in phases if p["concurrency"] == concurrency and p["endpoint"] == endpoint]
            checkout = [t for p in runs for t in p["checkout_s"]]
            catalog = [t for p in runs for t in p["catalog_s"]]
            steady = sum(p["steady_checkouts"] for p in runs)
            steady_s = sum(p["steady_s"] for p in runs)
            errors = sum((Counter(p["errors"]) for p in runs), Counter())
            rows.append({
                "concurrency": concurrency, "endpoint": endpoint, "requests": len(checkout),
                "errors": dict(errors), "error_count": sum(errors.values()),
                "throughput_rps": round(steady / steady_s, 2) if steady_s > 0 else None,
                "throughput_per_round_rps": [round(p["throughput"], 2) for p in runs],
                "checkout": latency_summary(checkout), "catalog": latency_summary(catalog),
                "cart_add": latency_summary([t for p in runs for t in p["cart_s"]]),
                "wall_s": round(sum(p["wall_s"] for p in runs), 2),
                # CPU per checkout loop (catalog page + cart + checkout), by component, in ms
                "cpu_ms_per_loop": {name: round(1000 * sum(p["cpu_s"].get(name, 0) for p in runs) / len(checkout), 2)
                                    for name in ("gunicorn", "worker", "postgres", "rabbitmq", "driver", "machine")}
                if checkout else {},
            })
    return rows


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(report):
    out = []
    machine = report["machine"]
    out.append("")
    out.append(f"Checkout benchmark, {report['finished_at']}  ({report['duration_s']:.0f} s)")
    out.append(f"machine: {machine['nproc']} cores, {machine['cpu_model']}, {machine['memory']}, "
               f"load {' '.join(f'{x:.2f}' for x in machine['loadavg_start'])} at start; {machine['note']}")
    cfg = report["config"]
    out.append(f"setup: gunicorn {cfg['gunicorn_workers']} sync workers, Celery worker prefork -c "
               f"{cfg['worker_concurrency']}, PostgreSQL {report['postgres_version']}, RabbitMQ vhost "
               f"{cfg['vhost'] or '(from URL)'}, driver in a separate process"
               + (f"; worker env {cfg['worker_env']}" if cfg.get("worker_env") else ""))
    out.append("")
    header = (f"{'shoppers':>8}  {'endpoint':<9} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>8} "
              f"{'p95 ms':>8} {'p99 ms':>8} {'catalog p50':>11} {'catalog p95':>11} {'web CPU':>8} {'all CPU':>8}")
    out.append(header)
    out.append("-" * len(header))
    for row in report["table"]:
        c, g = row["checkout"], row["catalog"]
        out.append(f"{row['concurrency']:>8}  {row['endpoint']:<9} {row['requests']:>8} {row['error_count']:>6} "
                   f"{fmt(row['throughput_rps']):>7} {fmt(c['p50_ms']):>8} {fmt(c['p95_ms']):>8} "
                   f"{fmt(c['p99_ms']):>8} {fmt(g['p50_ms']):>11} {fmt(g['p95_ms']):>11} "
                   f"{fmt(row['cpu_ms_per_loop'].get('gunicorn')):>8} {fmt(row['cpu_ms_per_loop'].get('machine')):>8}")
    out.append("(latencies in ms, of the checkout POST unless marked catalog; req/s = checkouts/s while all shoppers "
               "were active; web CPU / all CPU = ms of gunicorn / whole-machine CPU per shopper loop)")
    out.append("")
    out.append("floor ÷ checkout throughput (1.00 = the hand-over is free; target < "
               f"{TARGET_THROUGHPUT_RATIO} at 8 shoppers):")
    for ratio in report["ratios"]["throughput"]:
        flag = ""
        if ratio["concurrency"] == 8:
            flag = "  OK" if ratio["floor_over_checkout"] is not None and \
                ratio["floor_over_checkout"] < TARGET_THROUGHPUT_RATIO else "  MISSED"
        out.append(f"  {ratio['concurrency']:>3} shoppers: {fmt(ratio['floor_over_checkout'], 2)}   "
                   f"(checkout p50 is {fmt(ratio['checkout_p50_over_floor_p50'], 2)}x the floor's, "
                   f"+{fmt(ratio['checkout_p50_minus_floor_p50_ms'])} ms){flag}")
    out.append("extra CPU per shopper loop, checkout − floor (ms; \"other\" = rest of the machine, shared):")
    by = {(row["concurrency"], row["endpoint"]): row["cpu_ms_per_loop"] for row in report["table"]}
    for level in cfg["concurrency"]:
        checkout, floor = by.get((level, "checkout")) or {}, by.get((level, "floor")) or {}
        if not checkout or not floor:
            continue
        diff = {name: checkout.get(name, 0) - floor.get(name, 0) for name in checkout}
        known = sum(diff[name] for name in ("gunicorn", "worker", "postgres", "rabbitmq", "driver"))
        out.append(f"  {level:>3} shoppers: {diff['machine']:+.1f} = gunicorn {diff['gunicorn']:+.1f}, worker "
                   f"{diff['worker']:+.1f}, postgres {diff['postgres']:+.1f}, rabbitmq {diff['rabbitmq']:+.1f}, "
                   f"driver {diff['driver']:+.1f}, other {diff['machine'] - known:+.1f}")
    email = report["email"]
    out.append("")
    out.append(f"order -> email delivered (created -> confirmation_sent_at, target p50 < {TARGET_EMAIL_P50_MS:.0f} ms):")
    for level in email["by_concurrency"]:
        flag = ""
        if level["concurrency"] == email["target_level"]:
            ok = level["p50_ms"] is not None and level["p50_ms"] < TARGET_EMAIL_P50_MS
            flag = "  OK" if ok else "  MISSED"
        out.append(f"  {level['concurrency']:>3} shoppers: p50 {fmt(level['p50_ms'])} ms, p95 "
                   f"{fmt(level['p95_ms'])} ms  ({level['n']} emails, {level['unsent']} unsent){flag}")
    worker = report["worker_throughput"]
    out.append(f"worker throughput (prefork -c {cfg['worker_concurrency']}, draining a backlog of "
               f"{worker['orders']} emails, fast backend): {fmt(worker['emails_per_s'])} emails/s "
               f"(first->last sent {fmt(worker['first_to_last_s'], 2)} s; worker ready->last sent "
               f"{fmt(worker['ready_to_last_s'], 2)} s)")
    slow = report["slow_email"]
    flag = "OK" if slow["p95_ratio"] is not None and slow["p95_ratio"] < TARGET_SLOW_RATIO else "MISSED"
    out.append(f"slow mail ({slow['delay_s']:.0f} s per email), 8 shoppers: checkout p95 {fmt(slow['slow']['p95_ms'])} ms "
               f"vs {fmt(slow['fast']['p95_ms'])} ms fast = {fmt(slow['p95_ratio'], 2)} (target < "
               f"{TARGET_SLOW_RATIO})  {flag}; throughput {fmt(slow['slow_rps'])} vs {fmt(slow['fast_rps'])} req/s; "
               f"{slow['slow_emails_sent']} of {slow['slow']['n']} slow emails sent during the slow phases, "
               f"{slow['queue_depth_after_slow']} left queued")
    out.append("")
    out.append(f"command: {report['command']}")
    out.append(f"JSON: {report['json_path']}")
    print("\n".join(out), flush=True)


def run(args, state):
    started_wall = time.monotonic()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not levels or any(level < 1 for level in levels):
        raise SystemExit("--concurrency: a comma-separated list of positive integers")
    workdir = Path(tempfile.mkdtemp(prefix="myshop-bench-"))
    state["workdir"] = workdir
    machine = machine_info()
    log(f"work directory {workdir}")

    db = state["db"] = Database(args.database_url, keep=args.keep)
    postgres_version = db.create()
    vhost = state["vhost"] = Vhost(args.broker_url, args.vhost)
    vhost.create()
    log(f"database {db.name} and vhost {args.vhost or '(from URL)'} created")

    env = shop_environment(
        database=db.url, broker=vhost.url, smtp_port=25,
        EMAIL_BACKEND=FAST_EMAIL_BACKEND,
        ORDERS_BENCHMARK_FLOOR=1, STATIC_MANIFEST=1, CONN_MAX_AGE=60,
        STATIC_ROOT=workdir / "static", SHOP_SITE_URL="http://127.0.0.1:8000",
        LOG_LEVEL=args.log_level,
        # Every shopper comes from 127.0.0.1: the per-address abuse limits would answer 429 within seconds.
        # (The floor view is not rate-limited at all, so this also keeps the two views doing the same work.)
        RATE_LIMIT_CHECKOUT="", RATE_LIMIT_CART="",
    )
    worker_env = {**env, **args.worker_env}
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo_catalog")
    manage(env, "collectstatic", "--noinput")
    output = manage(env, "shell", "-c", PREPARE_CATALOG)
    products = json.loads(output.split("BENCH_PRODUCTS=", 1)[1].splitlines()[0])
    log(f"catalog ready: {len(products)} products, stock 10**9 each")

    web = state["web"] = start_gunicorn(env, workdir, args.workers)
    log(f"gunicorn on {web.base_url}, {args.workers} workers")
    state["worker"] = start_worker(worker_env, workdir, name="bench-fast", concurrency=args.worker_concurrency)
    log(f"worker ready (prefork -c {args.worker_concurrency})")
    driver = state["driver"] = Driver()
    seed = iter(range(args.seed, args.seed + 10_000))

    def phase(endpoint, concurrency, loops, tag):
        groups = {"gunicorn": web.pid, "worker": state["worker"].pid if state["worker"] else None}
        before = cpu_snapshot(groups)
        result = driver.run(base_url=web.base_url, endpoint=endpoint, concurrency=concurrency, loops=loops,
                            tag=tag, products=products, seed=next(seed))
        after = cpu_snapshot(groups)
        result["cpu_s"] = {name: round(after[name] - before[name], 3) for name in before}
        result["cpu_s"]["driver"] = round(result.pop("driver_cpu_s"), 3)
        p50 = percentile(result["checkout_s"], 0.5)
        log(f"{tag}: {result['ok']} checkouts, {result['throughput']:.1f}/s, p50 {fmt(ms(p50))} ms"
            + (f", errors {result['errors']}" if result["errors"] else ""))
        return result

    # 1. Warm-up: every gunicorn worker opens its database and broker connections, templates get cached.
    warm = max(2 * args.workers, 4)
    for endpoint in ("floor", "checkout"):
        phase(endpoint, warm, 3, f"warmup-{endpoint}")
    wait_drained(db, 60)

    # 2. The table: floor and checkout at each concurrency, in alternating rounds.
    phases = []
    for concurrency in levels:
        per_shopper = max(args.requests_per_shopper, math.ceil(args.min_requests / concurrency))
        per_round = [per_shopper // args.rounds + (1 if r < per_shopper % args.rounds else 0)
                     for r in range(args.rounds)]
        for round_index, loops in enumerate(per_round):
            order = ("floor", "checkout") if round_index % 2 == 0 else ("checkout", "floor")
            for endpoint in order:
                phases.append(phase(endpoint, concurrency, loops, f"c{concurrency}-{endpoint}-r{round_index + 1}"))
        owed = wait_drained(db, 120)
        if owed:
            log(f"warning: {owed} emails still owed after waiting 120 s")
    table = summarise_rows(phases, levels)

    by = {(row["concurrency"], row["endpoint"]): row for row in table}
    throughput_ratios = []
    for concurrency in levels:
        checkout, floor = by[(concurrency, "checkout")], by[(concurrency, "floor")]
        ratio = (floor["throughput_rps"] / checkout["throughput_rps"]
                 if checkout["throughput_rps"] and floor["throughput_rps"] else None)
        c50, f50 = checkout["checkout"]["p50_ms"], floor["checkout"]["p50_ms"]
        throughput_ratios.append({
            "concurrency": concurrency,
            "floor_over_checkout": round(ratio, 3) if ratio else None,
            "checkout_p50_over_floor_p50": round(c50 / f50, 3) if c50 and f50 else None,
            "checkout_p50_minus_floor_p50_ms": round(c50 - f50, 2) if c50 is not None and f50 is not None else None,
        })

    # 3. Order -> email latency of the real-checkout orders, per level.
    email_levels = []
    for concurrency in levels:
        sent, unsent = email_latencies(db, f"c{concurrency}-checkout-")
        email_levels.append({"concurrency": concurrency, **latency_summary(sent), "unsent": unsent})
    all_sent = [s for concurrency in levels for s in email_latencies(db, f"c{concurrency}-checkout-")[0]]
    target_level = 8 if 8 in levels else levels[0]

    # 4. Worker throughput: a backlog of M messages, then a worker drains it.
    stop_worker(state["worker"])
    state["worker"] = None
    backlog_shoppers = 8
    backlog_loops = math.ceil(args.backlog / backlog_shoppers)
    phase("checkout", backlog_shoppers, backlog_loops, "backlog")
    handed = db.query("SELECT COUNT(*) FROM orders_order WHERE email LIKE 'bench+backlog-%%' "
                      "AND confirmation_queued_at IS NOT NULL")[0][0]
    depth = vhost.queue_depth()
    log(f"backlog: {handed} orders handed to the broker, queue depth {depth}; starting a worker")
    time.sleep(1)  # let the machine settle after the placing burst
    state["worker"] = start_worker(worker_env, workdir, name="bench-drain", concurrency=args.worker_concurrency)
    ready_at = datetime.now(timezone.utc)
    owed = wait_drained(db, 300)
    rows = db.query("SELECT MIN(confirmation_sent_at), MAX(confirmation_sent_at), COUNT(*) FROM orders_order "
                    "WHERE email LIKE 'bench+backlog-%%' AND confirmation_status = 'sent'")
    first_sent, last_sent, sent_count = rows[0]
    first_to_last = (last_sent - first_sent).total_seconds() if sent_count and sent_count > 1 else None
    worker_throughput = {
        "orders": handed, "queue_depth_before_start": depth, "sent": sent_count, "still_owed": owed,
        "first_to_last_s": first_to_last,
        "emails_per_s": round((sent_count - 1) / first_to_last, 2) if first_to_last else None,
        "ready_to_last_s": (last_sent - ready_at).total_seconds() if sent_count else None,
        "method": "worker stopped; M orders placed through /orders/create/ (messages wait in the queue); a "
                  "worker started; emails/s = (M-1) / (last confirmation_sent_at - first confirmation_sent_at)",
    }
    log(f"worker throughput: {worker_throughput['emails_per_s']} emails/s")

    # 5. Slow mail: the 8-shopper checkout with the fast worker and with a 2 s/email worker, in the order
    #    fast, slow, slow, fast (so a drift of the shared machine's load hits both alike).
    slow_total = max(args.requests_per_shopper, math.ceil(args.min_requests / 8))
    halves = [slow_total - slow_total // 2, slow_total // 2] if slow_total > 1 else [1, 1]
    fast_runs = [phase("checkout", 8, halves[0], "slowref-fast-a")]
    wait_drained(db, 120)
    stop_worker(state["worker"])
    state["worker"] = None
    slow_env = {**worker_env, "EMAIL_BACKEND": SLOW_EMAIL_BACKEND, "BENCH_EMAIL_DELAY": str(args.email_delay)}
    state["worker"] = start_worker(slow_env, workdir, name="bench-slow", concurrency=args.worker_concurrency)
    slow_runs = [phase("checkout", 8, halves[0], "slowref-slow-a"), phase("checkout", 8, halves[1], "slowref-slow-b")]
    slow_sent = db.query("SELECT COUNT(*) FROM orders_order WHERE email LIKE 'bench+slowref-slow-%%' "
                         "AND confirmation_status = 'sent'")[0][0]
    slow_backlog = vhost.queue_depth()
    stop_worker(state["worker"])
    state["worker"] = None
    state["worker"] = start_worker(worker_env, workdir, name="bench-fast-2", concurrency=args.worker_concurrency)
    owed = wait_drained(db, 120)  # the fast worker first clears what the slow one left in the queue
    if owed:
        log(f"warning: {owed} emails still owed 120 s after the slow worker stopped")
    fast_runs.append(phase("checkout", 8, halves[1], "slowref-fast-b"))
    fast_s = [t for r in fast_runs for t in r["checkout_s"]]
    slow_s = [t for r in slow_runs for t in r["checkout_s"]]
    fast_summary, slow_summary = latency_summary(fast_s), latency_summary(slow_s)

    def rate(runs):
        seconds = sum(r["steady_s"] for r in runs)
        return round(sum(r["steady_checkouts"] for r in runs) / seconds, 2) if seconds > 0 else None

    slow_email = {
        "delay_s": args.email_delay, "order": "fast, slow, slow, fast (worker restarted in between)",
        "fast": fast_summary, "slow": slow_summary,
        "p95_ratio": round(slow_summary["p95_ms"] / fast_summary["p95_ms"], 3)
        if slow_summary["p95_ms"] and fast_summary["p95_ms"] else None,
        "p50_ratio": round(slow_summary["p50_ms"] / fast_summary["p50_ms"], 3)
        if slow_summary["p50_ms"] and fast_summary["p50_ms"] else None,
        "fast_rps": rate(fast_runs), "slow_rps": rate(slow_runs),
        "slow_emails_sent": slow_sent, "queue_depth_after_slow": slow_backlog, "owed_after_drain": owed,
        "errors": {"fast": [r["errors"] for r in fast_runs], "slow": [r["errors"] for r in slow_runs]},
        "phases": [{k: v for k, v in r.items() if k not in ("checkout_s", "catalog_s", "cart_s")}
                   for r in fast_runs + slow_runs],
    }
    stop_worker(state["worker"])
    state["worker"] = None

    machine["loadavg_end"] = list(os.getloadavg())
    command = " ".join(shlex.quote(arg) for arg in getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    report = {
        "benchmark": "checkout",
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started_wall, 1),
        "command": command,
        "cwd": os.getcwd(),
        "json_path": str(args.json),
        "machine": machine,
        "versions": versions(),
        "postgres_version": postgres_version,
        "config": {
            "gunicorn_workers": args.workers, "worker_concurrency": args.worker_concurrency,
            "concurrency": levels, "requests_per_shopper": args.requests_per_shopper,
            "min_requests": args.min_requests, "rounds": args.rounds, "backlog": args.backlog,
            "vhost": args.vhost, "database": db.name, "worker_env": args.worker_env, "email_backend_fast": FAST_EMAIL_BACKEND,
            "email_backend_slow": SLOW_EMAIL_BACKEND, "email_delay_s": args.email_delay,
            "loop": "GET / -> POST /cart/add/<id>/ x1-2 -> POST checkout; only the checkout POST is timed",
            "throughput": "successful checkouts/s while all N shoppers were active (closed loop)",
        },
        "table": table,
        "ratios": {"throughput": throughput_ratios, "target_floor_over_checkout_at_8": TARGET_THROUGHPUT_RATIO},
        "email": {"by_concurrency": email_levels, "all": latency_summary(all_sent), "target_level": target_level,
                  "target_p50_ms": TARGET_EMAIL_P50_MS,
                  "measure": "confirmation_sent_at - created of each real-checkout order (database clocks of "
                             "the web and worker processes, same machine)"},
        "worker_throughput": worker_throughput,
        "slow_email": slow_email,
        "phases": [{k: v for k, v in p.items() if k not in ("checkout_s", "catalog_s", "cart_s")}
                   for p in phases],
    }
    return report


def parse_args(argv):
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/myshop_bench",
                        help="PostgreSQL database the benchmark creates (dropping a leftover one) and drops at "
                             "the end; its name must contain 'bench' (default: %(default)s)")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672/",
                        help="RabbitMQ on this machine; the vhost part is replaced by --vhost (default: %(default)s)")
    parser.add_argument("--vhost", default="myshop-bench",
                        help="vhost created with rabbitmqctl and deleted at the end; '' uses --broker-url's own "
                             "vhost as it is (default: %(default)s)")
    parser.add_argument("--requests-per-shopper", type=int, default=40,
                        help="checkout loops per shopper per endpoint at each level: 32 shoppers do 1280 checkouts "
                             "per endpoint (default: %(default)s)")
    parser.add_argument("--min-requests", type=int, default=400,
                        help="at least this many checkouts per endpoint per level (so 1 shopper does 400 loops, "
                             "not 40: enough samples for a p99) (default: %(default)s)")
    parser.add_argument("--concurrency", default="1,8,32", help="shopper counts (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="floor/checkout alternations per level (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2 * cores + 1,
                        help="gunicorn sync workers; default 2 x cores + 1 = %(default)s, gunicorn's own advice: "
                             "a sync worker waits on PostgreSQL and RabbitMQ, so a bit more than one per core")
    parser.add_argument("--worker-concurrency", type=int, default=max(2, cores),
                        help="Celery worker processes (default: %(default)s)")
    parser.add_argument("--backlog", type=int, default=300,
                        help="orders queued for the worker-throughput measurement (default: %(default)s)")
    parser.add_argument("--email-delay", type=float, default=2.0,
                        help="seconds per email of the slow mail backend (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-checkout.json",
                        help="where to write the JSON (default: var/bench-checkout.json)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the Celery workers only (repeatable), to try a worker setting")
    parser.add_argument("--log-level", default="INFO", help="the shop's LOG_LEVEL in gunicorn and the worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args(argv)
    try:
        args.worker_env = dict(item.split("=", 1) for item in args.worker_env)
    except ValueError:
        parser.error("--worker-env takes NAME=VALUE")
    if args.requests_per_shopper < 1 or args.rounds < 1 or args.workers < 1 or args.worker_concurrency < 1:
        parser.error("counts must be positive")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--driver"]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator ends us by closing stdin
        driver_main()
        return 0
    args = parse_args(argv)

    def on_sigterm(signum, frame):
        raise Interrupted()

    signal.signal(signal.SIGTERM, on_sigterm)
    state = {"db": None, "vhost": None, "web": None, "worker": None, "driver": None, "workdir": None}
    failed = True
    try:
        report = run(args, state)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print_report(report)
        print(json.dumps(report, indent=2), flush=True)
        failed = False
        return 0
    except (KeyboardInterrupt, Interrupted):
        log("interrupted: cleaning up")
        return 130
    except Exception:
        traceback.print_exc()
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        for key in ("driver", "worker", "web"):
            if state[key] is not None:
                try:
                    stop_worker(state[key], timeout=10) if key == "worker" else state[key].stop()
                except Exception as error:
                    log(f"could not stop {key}: {error}")
        if state["vhost"] is not None:
            state["vhost"].delete()
        if state["db"] is not None:
            state["db"].drop()
        workdir = state["workdir"]
        if workdir is not None:
            if failed or args.keep:
                log(f"logs kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
