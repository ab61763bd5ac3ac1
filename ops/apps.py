import atexit
import os
import shutil
import sys
import tempfile

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Health, readiness and metrics for operators: /healthz, /readyz, /metrics and the worker's exporter."""

    name = "ops"
    verbose_name = _("Operations")

    def ready(self):
        _give_the_worker_a_metrics_directory()  # before anything imports prometheus_client
        from . import checks, order_emails, worker  # noqa: F401  (checks registered)

        order_emails.connect()
        worker.connect()


def _give_the_worker_a_metrics_directory():
    """A worker exporting metrics (WORKER_METRICS_PORT) sums its pool processes' counters through files in
    PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads when first imported: without one set, a worker gets
    a fresh directory of its own, removed when it exits (its pool processes inherit the variable)."""
    if (
        os.environ.get("WORKER_METRICS_PORT")
        and not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        and "worker" in sys.argv
    ):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="myshop-worker-metrics-")
        atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
