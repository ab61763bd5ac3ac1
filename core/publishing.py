"""How every task is published: bounded, patient with a quorum queue that is failing over, and never into a
delayed-delivery route that no worker has laid yet."""

import logging
import math
import threading
import time

from amqp.exceptions import MessageNacked
from celery import Task
from celery.utils.quorum_queues import detect_quorum_queues
from kombu.exceptions import OperationalError
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

logger = logging.getLogger(__name__)
_delayed_delivery_laid = False
_delayed_delivery_lock = threading.Lock()


def lay_delayed_delivery(app):
    """Declare native delayed delivery's exchanges and queues and bind the task queues to it, as a worker does
    when it starts; once per process. Without it, a countdown published before any worker was ready (the web
    up first, a fresh vhost, a deploy) is refused, or dead-lettered to nowhere and lost without a word."""
    global _delayed_delivery_laid
    with _delayed_delivery_lock:
        if _delayed_delivery_laid:
            return
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0)  # one try, no pause: the publish is bounded too
                declare_native_delayed_delivery_exchanges_and_queues(
                    connection, app.conf.broker_native_delayed_delivery_queue_type
                )
                for queue in app.amqp.queues.values():
                    queue(connection.default_channel).declare()  # bound to it, the queue must exist
                    bind_queue_to_native_delayed_delivery_exchange(connection, queue)
        except Exception as error:  # the broker is away: the publish fails as well, and its caller knows
            logger.warning("delayed delivery not laid yet (%s): tried again at the next countdown", error)
            return
        _delayed_delivery_laid = True


class ConfirmBoundedTask(Task):
    """The base of every task: how publishing behaves against a quorum queue that is failing over.

    - The broker's confirm is awaited at most BROKER_CONFIRM_TIMEOUT seconds (py-amqp waits forever, #285).
    - A nack, which the broker answers while a quorum queue elects its leader, is tried once more after
      BROKER_NACK_RETRY_SECONDS: kombu retries connection errors only. A nacked message was not taken.
    - A countdown is rounded up to whole seconds: kombu 5.7's native delayed delivery truncates it, and
      refuses one under a second, which Task.retry() turns into a dropped message.
    - Before the first countdown, the route it takes through the broker is laid (lay_delayed_delivery).
    """

    def apply_async(
        self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, shadow=None, **options
    ):
        from django.conf import settings

        options.setdefault("confirm_timeout", settings.BROKER_CONFIRM_TIMEOUT)
        if options.get("countdown") and options["countdown"] > 0:
            options["countdown"] = math.ceil(options["countdown"])
        if (options.get("countdown") or options.get("eta")) and not _delayed_delivery_laid:
            if detect_quorum_queues(self.app, self.app.connection_for_write().transport.driver_type)[0]:
                lay_delayed_delivery(self.app)
        try:
            return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
        except OperationalError as error:
            if not isinstance(error.__cause__, MessageNacked) or settings.BROKER_NACK_RETRY_SECONDS <= 0:
                raise
        time.sleep(settings.BROKER_NACK_RETRY_SECONDS)
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
