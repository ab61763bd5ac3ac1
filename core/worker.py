"""The Celery worker's behaviour that settings alone cannot give: database connections reused per task as
per request, and a delayed-delivery step that survives losing a broker node quickly."""

from celery.signals import task_postrun, task_prerun
from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from django.db import close_old_connections


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(**kwargs):
    """Treat each task like a web request: drop a broken connection or one older than CONN_MAX_AGE.

    Celery's own Django fixup would reconnect for every task (settings.CELERY_DB_REUSE_MAX turns it off).
    """
    close_old_connections()


class OneNodeDelayedDelivery(DelayedDelivery):
    """Celery's native delayed delivery, set up through the node the worker is connected to.

    Celery 5.7 declares the delayed-delivery queues on every URL of a ";"-separated CELERY_BROKER_URL and
    retries a dead one for about 17 s before the worker consumes; the URLs here name nodes of one cluster,
    which share their queues, so the live connection is enough (docs/decisions/failover-consumer.md).
    """

    def start(self, c):
        self._live_url = c.connection.as_uri(include_password=True)
        super().start(c)

    def _validate_broker_urls(self, broker_urls):
        super()._validate_broker_urls(broker_urls)  # Celery's own checks of the setting
        return {self._live_url}


class FailoverConsumer(Consumer):
    """The worker's consumer with OneNodeDelayedDelivery in place of Celery's step (CELERY_WORKER_CONSUMER)."""

    class Blueprint(Consumer.Blueprint):
        default_steps = [
            "core.worker:OneNodeDelayedDelivery"
            if step == "celery.worker.consumer.delayed_delivery:DelayedDelivery"
            else step
            for step in Consumer.Blueprint.default_steps
        ]
