"""The worker's own metrics: task outcomes and order-to-email latency, served over HTTP by the worker.

With WORKER_METRICS_PORT set, a worker serves its metrics at http://WORKER_METRICS_ADDRESS:PORT/ (any path),
summed over its pool processes (see myshop/celery.py for the multiprocess directory). One port per worker
process on a host: two workers on one machine need two ports.
"""
import logging

from celery.signals import task_postrun, task_retry, task_success, worker_ready
from django.conf import settings

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


def _on_task_success(sender=None, result=None, **kwargs):
    # Sent before task_postrun, where myshop/celery.py closes the task's database connection: the query
    # below must not open one that would outlive the task.
    try:
        _observe_email_latency(sender.name, list(sender.request.args or ()), result)
    except Exception:  # a metric must never break the task's bookkeeping
        logger.exception("could not observe the order email latency")


def _observe_email_latency(name, args, retval):
    from .order_emails import EMAIL_TASKS, SENT, seconds_to_send

    kind = EMAIL_TASKS.get(name)
    if kind is None or retval != SENT or not args:
        return
    seconds = seconds_to_send(args[0], kind)
    if seconds is not None:
        metrics.EMAIL_LATENCY.labels(kind=kind).observe(seconds)


def _on_task_retry(sender=None, request=None, **kwargs):
    metrics.TASKS.labels(task=getattr(sender, "name", "?"), outcome="retry").inc()


def connect():
    worker_ready.connect(_on_worker_ready, dispatch_uid="ops-worker-metrics-server")
    task_postrun.connect(_on_task_postrun, dispatch_uid="ops-task-postrun")
    task_success.connect(_on_task_success, dispatch_uid="ops-task-success")
    task_retry.connect(_on_task_retry, dispatch_uid="ops-task-retry")
