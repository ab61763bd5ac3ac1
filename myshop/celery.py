import atexit
import os
import shutil
import sys
import tempfile

from celery import Celery
from celery.signals import task_postrun, task_prerun
from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery

from .publishing import ConfirmBoundedTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myshop.settings")

# A worker exporting metrics (WORKER_METRICS_PORT, see ops/worker.py) adds up the counters of all its pool
# processes through files in PROMETHEUS_MULTIPROC_DIR; without one set, it gets a fresh directory of its own,
# removed when it exits. prometheus_client reads the variable when first imported (by Django's setup, before
# any Celery signal), and the pool processes inherit it, hence here, for `celery ... worker` only.
if (
    os.environ.get("WORKER_METRICS_PORT")
    and not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    and "worker" in sys.argv[1:]
):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="myshop-worker-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


class OneNodeDelayedDelivery(DelayedDelivery):
    """Celery's native delayed delivery set up through the node the worker is connected to.

    Celery 5.7 declares the celery_delayed_* queues and bindings on every URL of a ";"-separated
    CELERY_BROKER_URL, retrying an unreachable one three times (1 + 3 + 5 s of sleep, plus kombu's own
    reconnect pauses) before it lets the worker consume: after the node it was connected to died, a worker
    consumed nothing for about 17 s, on every reconnection (measured with tests/cluster.py). The URLs name
    nodes of ONE cluster, which share their exchanges, queues and bindings, so declaring through the live
    connection is enough, and takes milliseconds. Several independent brokers are not supported this way.
    """

    def start(self, c):
        self._live_url = c.connection.as_uri(include_password=True)
        super().start(c)

    def _validate_broker_urls(self, broker_urls):
        super()._validate_broker_urls(broker_urls)  # Celery's own checks of the setting
        return {self._live_url}


class FailoverConsumer(Consumer):
    """The worker's consumer, with OneNodeDelayedDelivery in place of Celery's DelayedDelivery step
    (CELERY_WORKER_CONSUMER points here)."""

    class Blueprint(Consumer.Blueprint):
        default_steps = [
            "myshop.celery:OneNodeDelayedDelivery"
            if step == "celery.worker.consumer.delayed_delivery:DelayedDelivery"
            else step
            for step in Consumer.Blueprint.default_steps
        ]


app = Celery("myshop", task_cls=ConfirmBoundedTask)  # every task publishes as myshop/publishing.py says
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(**kwargs):
    """Treat each task like a web request: drop a database connection that is broken or older than
    CONN_MAX_AGE, keep a healthy one (Celery's own fixup would reconnect for every task; see settings)."""
    from django.db import close_old_connections

    close_old_connections()
