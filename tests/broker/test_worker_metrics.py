"""A real prefork worker (two pool processes, as a subprocess) serves its own metrics over HTTP, summed
over its pool processes: task outcomes and order-to-email latency after real emails."""

import urllib.request
import uuid
from unittest.mock import patch

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from orders.models import OrderEmail
from orders.services import place_order
from testkit.database import database_url
from testkit.processes import free_port, shop_environment, start_worker
from testkit.rabbit import delete_queue_and_exchange
from testkit.smtp import SmtpSink
from testkit.waiting import wait_for

# the worker's exporter
pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True), pytest.mark.any_database]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples, name, **labels):
    return sum(
        sample.value
        for sample in samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def metrics_worker(tmp_path):
    """A prefork worker (-c 2) on a queue of its own on the shared broker, exporting metrics on a port."""
    queue = f"myshop-test-metrics-{uuid.uuid4().hex[:8]}"
    port = free_port()
    sink = SmtpSink().start()
    env = shop_environment(
        database=database_url(connection.settings_dict),
        broker=settings.CELERY_BROKER_URL,
        smtp_port=sink.port,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        WORKER_METRICS_PORT=port,
        WORKER_METRICS_ADDRESS="127.0.0.1",
    )
    worker = None
    sender = Celery("metrics-probe", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    sender.conf.update(
        task_default_queue=queue,
        task_default_queue_type="quorum",
        task_default_exchange_type="topic",
        broker_transport_options={"confirm_publish": True},
    )
    try:
        worker = start_worker(env, tmp_path, name=f"metrics-{uuid.uuid4().hex[:6]}", concurrency=2)
        yield worker, port, sender, sink
    finally:
        if worker is not None:
            worker.stop()
            print(f"----- worker log (tail) -----\n{worker.log()[-3000:]}")
        sink.stop()
        delete_queue_and_exchange(settings.CELERY_BROKER_URL, queue)


def test_a_prefork_worker_serves_task_outcomes_and_email_latency_of_all_its_processes(
    metrics_worker, make_product, customer
):
    worker, port, sender, sink = metrics_worker
    with patch("celery.app.task.Task.apply_async"):  # owed, and handed over below to this worker's queue
        orders = [
            place_order(customer={**customer, "email": f"buyer{n}@example.com"}, quantities={make_product().id: 1})
            for n in range(3)
        ]
    for order in orders:
        sender.send_task("orders.tasks.order_created", args=[order.id])
    sender.send_task("orders.tasks.order_created", args=[987654321])  # no such order: succeeds, sends nothing

    wait_for(
        lambda: OrderEmail.objects.filter(kind="confirmation", state="sent").count() == 3,
        timeout=30,
        what="three confirmations sent by the worker",
    )

    def four_tasks_counted():
        found = scrape(port)
        return found if value(found, "myshop_worker_tasks_total", task="orders.tasks.order_created") == 4 else None

    samples = wait_for(four_tasks_counted, timeout=10, what="four finished tasks in the worker's metrics")

    assert value(samples, "myshop_worker_tasks_total", task="orders.tasks.order_created", outcome="success") == 4
    assert value(samples, "myshop_order_email_latency_seconds_count", kind="confirmation") == 3
    assert value(samples, "myshop_order_email_latency_seconds_sum", kind="confirmation") > 0
    assert sorted(sink.order_ids()) == sorted(order.id for order in orders)
    pool_processes = {
        line.split("ForkPoolWorker-")[1].split("]")[0]
        for line in worker.log().splitlines()
        if "ForkPoolWorker-" in line and "succeeded" in line
    }
    assert len(pool_processes) >= 1  # the tasks ran in pool processes, not in the process serving metrics
