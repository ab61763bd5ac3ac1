"""How every task is published: bounded, and patient with a quorum queue that is failing over."""

import math
import time

from amqp.exceptions import MessageNacked
from celery import Task
from kombu.exceptions import OperationalError


class ConfirmBoundedTask(Task):
    """The base of every task: how publishing behaves against a quorum queue that is failing over.

    - The broker's confirm is awaited at most BROKER_CONFIRM_TIMEOUT seconds (py-amqp waits forever, #285).
    - A nack, which the broker answers while a quorum queue elects its leader, is tried once more after
      BROKER_NACK_RETRY_SECONDS: kombu retries connection errors only. A nacked message was not taken.
    - A countdown is rounded up to whole seconds: kombu 5.7's native delayed delivery truncates it, and
      refuses one under a second, which Task.retry() turns into a dropped message.
    """

    def apply_async(
        self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, shadow=None, **options
    ):
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
