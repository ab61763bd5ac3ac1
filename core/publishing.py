"""How every task is published: bounded, and patient with a quorum queue that is failing over."""

import math
import time

from amqp.exceptions import MessageNacked
from celery import Task
from kombu.exceptions import OperationalError


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
