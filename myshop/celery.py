import atexit
import os
import shutil
import sys
import tempfile

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

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
    """The base of every task: a publish waits at most BROKER_CONFIRM_TIMEOUT seconds for the broker's
    confirm (py-amqp's own default is to wait forever, e.g. on a channel left broken by an earlier error,
    py-amqp #285), so a checkout handing over an email can never hang on the broker."""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        from django.conf import settings

        options.setdefault("confirm_timeout", settings.BROKER_CONFIRM_TIMEOUT)
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)


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

