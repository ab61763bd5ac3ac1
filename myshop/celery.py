import atexit
import math
import os
import shutil
import sys
import tempfile
import time

from amqp.exceptions import MessageNacked
from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myshop.settings")

# A worker exporting metrics (WORKER_METRICS_PORT, see ops/worker.py) adds up the counters of all its pool
# processes through files in PROMETHEUS_MULTIPROC_DIR; without one set, it gets a fresh directory of its own,
# removed when it exits. prometheus_client reads the variable when first imported (by Django's setup, before
# any Celery signal), and the pool processes inherit it, hence here, for `celery ... worker` only.
if os.environ.get("WORKER_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR") \
        and "worker" in sys.argv[1:]:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="myshop-worker-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


class ConfirmBoundedTask(Task):
    """The base of every task: how publishing behaves against a quorum queue that is failing over.

    - A publish waits at most BROKER_CONFIRM_TIMEOUT seconds for the broker's confirm (py-amqp's default
      is to wait forever, e.g. on a channel left broken by an earlier error, py-amqp #285).
    - A nack is tried once more after BROKER_NACK_RETRY_SECONDS: the broker nacks while a quorum queue
      elects a new leader (about 0.1-0.4 s after the old one died, measured on tests/cluster.py), and
      kombu's retry policy only covers connection errors. A nacked message was not taken, so the second
      try is no duplicate (and a duplicate would be harmless: the worker claims each email in the database).
    - A countdown is rounded UP to whole seconds. Native delayed delivery (quorum queues) works in whole
      seconds: kombu 5.7 truncates 1.9 s to 1 s and refuses anything under 1 s with a ValueError, which
      Task.retry() turns into a dropped message (Reject). An `eta` is passed on unchanged.
    """

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        from django.conf import settings

        options.setdefault("confirm_timeout", settings.BROKER_CONFIRM_TIMEOUT)
        if options.get("countdown") and options["countdown"] > 0:
            options["countdown"] = math.ceil(options["countdown"])
        try:
            return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
        except OperationalError as error:
            if not isinstance(error.__cause__, MessageNacked) or settings.BROKER_NACK_RETRY_SECONDS <= 0:
                raise
        time.sleep(settings.BROKER_NACK_RETRY_SECONDS)
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)


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
            if step == "celery.worker.consumer.delayed_delivery:DelayedDelivery" else step
            for step in Consumer.Blueprint.default_steps
        ]


app = Celery("myshop", task_cls=ConfirmBoundedTask)
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

