"""The shop's Prometheus metrics (prometheus_client), and the text served at /metrics.

Counters and the histogram live in the process that records them. Under gunicorn (several web processes)
and in a prefork worker, set PROMETHEUS_MULTIPROC_DIR to an empty directory so that a scrape adds up every
process's values (prometheus_client's multiprocess mode; the worker makes its own directory when unset).
Gauges read from the database are computed at scrape time by the web process (EmailStateCollector).

For other code: `record_failed_publish(kind)` when an email could not be published to the broker.
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

ORDERS_PLACED = Counter("myshop_orders_placed", "Orders placed (counted when their transaction commits).")
FAILED_PUBLISHES = Counter(
    "myshop_email_publish_failures",
    "Order emails the broker did not take when published (left for the sweep).",
    ["kind"],
)
EMAIL_LATENCY = Histogram(
    "myshop_order_email_latency_seconds",
    "From the order (the moment the email was owed) to the email sent, observed by the worker that sent it.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600),
)
TASKS = Counter("myshop_worker_tasks", "Celery tasks finished by this worker, by outcome.", ["task", "outcome"])


def record_failed_publish(kind):
    """Count one order email of `kind` ("confirmation", "shipping") that the broker did not take."""
    FAILED_PUBLISHES.labels(kind=kind).inc()


class EmailStateCollector:
    """Gauge myshop_order_emails{kind, state}: how many order emails are in each state, read from the
    database at scrape time by `counts` (every web process reports the same value: aggregate with max)."""

    def __init__(self, counts):
        self.counts = counts  # () -> {(kind, state): number}

    def describe(self):
        return []

    def collect(self):
        gauge = GaugeMetricFamily(
            "myshop_order_emails", "Order emails by kind and state (from the database).", labels=["kind", "state"]
        )
        for (kind, state), number in sorted(self.counts().items()):
            gauge.add_metric([kind, state], number)
        yield gauge


def process_registry():
    """This process's metrics, or every process's when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


_database_registry = CollectorRegistry()


def register_database_gauges(counts):
    """Serve the email-state gauge from `counts` (ops.order_emails, which knows the orders app)."""
    _database_registry.register(EmailStateCollector(counts))


def web_exposition():
    """The text format served at /metrics: the processes' metrics plus the database gauges."""
    return generate_latest(process_registry()) + generate_latest(_database_registry)
