"""The worker's own metrics: task outcomes and order-to-email latency, served over HTTP by the worker.

With WORKER_METRICS_PORT set, a worker serves its metrics at http://WORKER_METRICS_ADDRESS:PORT/ (any path),
summed over its pool processes (ops/apps.py gives it a multiprocess directory). One port per worker
process on a host: two workers on one machine need two ports.
"""

import logging

from celery.signals import task_postrun, task_retry, worker_ready
from django.conf import settings

from orders.signals import email_sent

from . import metrics

logger = logging.getLogger(__name__)


def _on_worker_ready(sender=None, **kwargs):
    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    start_http_server(port, addr=settings.WORKER_METRICS_ADDRESS, registry=metrics.process_registry())
    logger.warning("worker metrics served on %s:%s", settings.WORKER_METRICS_ADDRESS, port)


def _on_task_postrun(sender=None, task=None, state=None, **kwargs):
    if state in {"SUCCESS", "FAILURE"}:  # a retry is counted by task_retry
        metrics.TASKS.labels(task=getattr(task or sender, "name", "?"), outcome=state.lower()).inc()


def _on_email_sent(sender=None, kind=None, seconds=None, **kwargs):
    """Order-to-email latency, as the outbox measured it when it recorded the email sent (no query of ours)."""
    metrics.EMAIL_LATENCY.labels(kind=kind).observe(seconds)


def _on_task_retry(sender=None, request=None, **kwargs):
    metrics.TASKS.labels(task=getattr(sender, "name", "?"), outcome="retry").inc()


def connect():
    worker_ready.connect(_on_worker_ready, dispatch_uid="ops-worker-metrics-server")
    task_postrun.connect(_on_task_postrun, dispatch_uid="ops-task-postrun")
    email_sent.connect(_on_email_sent, dispatch_uid="ops-email-latency")
    task_retry.connect(_on_task_retry, dispatch_uid="ops-task-retry")
