"""The task queue is a quorum queue behind a topic exchange, with publisher confirms, in web and worker
alike; countdown retries travel through RabbitMQ's native delayed delivery and come back to a worker.

Uses the shared broker at CELERY_BROKER_URL and the run's own queue (see test_settings).
"""

import json
import threading
import time
import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from celery import shared_task
from django.conf import settings
from kombu import Connection, Exchange, Queue

from testkit.processes import run_python
from testkit.rabbit import delete_queue_and_exchange
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.any_database]  # the broker's queues: the same on any database

DELAY_PREFIX_WORDS = 28  # kombu's native delayed delivery prefixes the routing key with 28 binary digits

_probe_runs = []
_probe_lock = threading.Lock()


@shared_task(bind=True, name="tests.broker.test_quorum_queues.countdown_probe", max_retries=3)
def countdown_probe(self, token, countdown):
    """Test-only task: fails its first run with a retry after `countdown` seconds, succeeds on the second."""
    with _probe_lock:
        _probe_runs.append(
            {
                "token": token,
                "at": time.monotonic(),
                "retries": self.request.retries,
                "routing_key": (self.request.delivery_info or {}).get("routing_key", ""),
            }
        )
    if self.request.retries == 0:
        raise self.retry(countdown=countdown)
    return "done"


def _runs(token):
    with _probe_lock:
        return [run for run in _probe_runs if run["token"] == token]


PRODUCTION_QUEUE_CODE = """
import json, os
os.environ['DJANGO_SETTINGS_MODULE'] = 'myshop.settings'
import django; django.setup()
from myshop.celery import app
queue = app.amqp.queues[app.conf.task_default_queue]
print(json.dumps({"name": queue.name, "arguments": queue.queue_arguments, "exchange": queue.exchange.name,
                  "exchange_type": queue.exchange.type, "routing_key": queue.routing_key,
                  "transport_options": app.conf.broker_transport_options,
                  "delayed_queue_type": app.conf.broker_native_delayed_delivery_queue_type}))
"""


def test_production_declares_one_quorum_task_queue_behind_a_topic_exchange_with_publisher_confirms():
    result = run_python(PRODUCTION_QUEUE_CODE, SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    declared = json.loads(result.stdout.strip().splitlines()[-1])
    # One module (settings) configures the app for web and worker alike: the producer declares this queue too.
    assert declared == {
        "name": "myshop",
        "arguments": {"x-queue-type": "quorum"},
        "exchange": "myshop",
        "exchange_type": "topic",
        "routing_key": "myshop",
        "delayed_queue_type": "quorum",
        # Confirms, and every socket read and write bounded (a broker alarm must not hang a checkout).
        "transport_options": {"confirm_publish": True, "read_timeout": 1.0, "write_timeout": 1.0},
    }


def test_the_task_queue_name_can_be_chosen_for_a_migration():
    result = run_python(PRODUCTION_QUEUE_CODE, SECRET_KEY="x" * 50, CELERY_TASK_DEFAULT_QUEUE="myshop-v2")
    assert result.returncode == 0, result.stderr
    declared = json.loads(result.stdout.strip().splitlines()[-1])
    assert (declared["name"], declared["exchange"], declared["arguments"]) == (
        "myshop-v2",
        "myshop-v2",
        {"x-queue-type": "quorum"},
    )


def test_the_run_queue_on_the_broker_is_a_quorum_queue(running_worker):
    name = settings.CELERY_TASK_DEFAULT_QUEUE
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.channel()
        # Redeclaring it as a classic queue is refused: the broker holds it as a quorum queue.
        with pytest.raises(PreconditionFailed, match="x-queue-type"):
            arguments = {**settings.CELERY_TASK_QUEUES[0].queue_arguments, "x-queue-type": "classic"}
            channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments)


def test_a_retry_with_a_countdown_waits_in_the_broker_then_runs_on_a_worker(running_worker):
    token = uuid.uuid4().hex
    countdown_probe.delay(token, 2)

    first, second = wait_for(
        lambda: _runs(token) if len(_runs(token)) >= 2 else None, timeout=30, what="the retried run"
    )
    assert (first["retries"], second["retries"]) == (0, 1)
    assert second["at"] - first["at"] >= 1.9  # whole seconds: kombu rounds a countdown down
    # The retry came back through the celery_delayed_* queues: its routing key carries the delay in binary
    # (2 s -> ...0.1.0) in front of the queue's own key. Classic queues would hold it in the worker instead.
    words = second["routing_key"].split(".")
    assert words[:DELAY_PREFIX_WORDS] == ["0"] * 26 + ["1", "0"]
    assert ".".join(words[DELAY_PREFIX_WORDS:]) == settings.CELERY_TASK_DEFAULT_QUEUE
    time.sleep(0.5)
    assert len(_runs(token)) == 2  # and it ran exactly once more


def test_a_countdown_under_one_second_is_rounded_up_to_one_second_and_runs(running_worker):
    """kombu 5.7 refuses a countdown in (0, 1) on quorum queues (ValueError: countdown must be a positive
    number), and Task.retry() would drop the message; the shop's task class rounds countdowns up."""
    token = uuid.uuid4().hex
    countdown_probe.delay(token, 0.3)

    first, second = wait_for(
        lambda: _runs(token) if len(_runs(token)) >= 2 else None, timeout=30, what="the retried run"
    )
    assert second["at"] - first["at"] >= 0.9
    assert second["routing_key"].split(".")[:DELAY_PREFIX_WORDS] == ["0"] * 27 + ["1"]


def test_deleting_a_run_queue_leaves_neither_queue_nor_exchange():
    name = f"myshop-test-probe-{uuid.uuid4().hex[:8]}"
    model = settings.CELERY_TASK_QUEUES[0]
    queue = Queue(
        name, Exchange(name, type="topic", auto_delete=True), routing_key=name, queue_arguments=model.queue_arguments
    )
    with Connection(settings.CELERY_BROKER_URL) as connection:
        queue(connection.channel()).declare()

    assert delete_queue_and_exchange(settings.CELERY_BROKER_URL, name) is True
    with Connection(settings.CELERY_BROKER_URL) as connection:
        from amqp.exceptions import NotFound

        with pytest.raises(NotFound):
            connection.channel().exchange_declare(name, "topic", passive=True)


def _publish_failing(errors, calls):
    """A stand-in for Celery's Task.apply_async: raises the given errors in turn, then succeeds."""
    from amqp.exceptions import MessageNacked
    from kombu.exceptions import OperationalError

    def apply_async(self, *args, **options):
        calls.append(options)
        if errors:
            cause = errors.pop(0)
            try:
                raise cause
            except (MessageNacked, ConnectionRefusedError) as error:
                raise OperationalError(str(error)) from error
        return "published"

    return apply_async


def test_a_nacked_publish_is_tried_once_more_with_a_bounded_confirm(settings, monkeypatch):
    """Unit test of the task base class (the publish is faked): a quorum queue nacks during a leader election."""
    from amqp.exceptions import MessageNacked
    from celery.app.task import Task

    settings.BROKER_NACK_RETRY_SECONDS = 0.01
    calls = []
    monkeypatch.setattr(Task, "apply_async", _publish_failing([MessageNacked()], calls))

    assert countdown_probe.apply_async(("token", 1)) == "published"
    assert len(calls) == 2 and all(call["confirm_timeout"] == settings.BROKER_CONFIRM_TIMEOUT for call in calls)


def test_a_publish_refused_for_another_reason_is_not_tried_again_here(settings, monkeypatch):
    from celery.app.task import Task
    from kombu.exceptions import OperationalError

    calls = []
    monkeypatch.setattr(Task, "apply_async", _publish_failing([ConnectionRefusedError(111, "refused")], calls))

    with pytest.raises(OperationalError):
        countdown_probe.apply_async(("token", 1))
    assert len(calls) == 1  # connection errors are kombu's retry policy's business, already spent
