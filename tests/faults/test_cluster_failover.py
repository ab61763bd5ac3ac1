"""Failover on a three-node RabbitMQ cluster (testkit/cluster.py): a node SIGKILLed under the shop's feet.

The web server and a worker run as subprocesses with production settings and CELERY_BROKER_URL listing the
three nodes; the task queue is a quorum queue replicated on all three. One cluster serves the module.
"""

import json
import os
import shutil
import threading
import time
import urllib.request
from decimal import Decimal

import pytest
from django.db import connection

from orders.models import Order, OrderEmail
from testkit.cluster import RabbitCluster
from testkit.database import database_url
from testkit.processes import ShopProcesses, shop_environment
from testkit.shopper import Shopper, placed_order_number
from testkit.smtp import SmtpSink
from testkit.waiting import wait_until as harness_wait_until

# a broker failover: the same on any database
pytestmark = [
    pytest.mark.broker,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.any_database,
]

TASK_QUEUE = "myshop"
CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "address": "12 Analytical Street",
    "postal_code": "10115",
    "city": "Berlin",
}


def wait_until(condition, *, timeout=60, what="condition"):
    try:
        return harness_wait_until(condition, timeout=timeout, what=what)
    except TimeoutError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("rabbitmq-server") is None or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("cluster tests need rabbitmq-server and root to start private nodes")
        pytest.skip("cluster tests need rabbitmq-server and root to start private RabbitMQ nodes")
    with RabbitCluster() as started:
        yield started


@pytest.fixture(scope="module")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def shop(cluster, smtp_sink, tmp_path, transactional_db):
    """Web and workers on demand, pointed at all three nodes; every node up and the queue empty at start."""
    for node in cluster.nodes:
        if not node.alive():
            cluster.restart(node)  # not needed by the single test today
    cluster.live_node()._ctl("purge_queue", TASK_QUEUE, check=False)  # not there yet on the first test
    smtp_sink.reset()
    shop = ShopProcesses(
        shop_environment(
            database=database_url(connection.settings_dict),
            broker=cluster.url,
            smtp_port=smtp_sink.port,
            ORDER_EMAIL_SWEEP_SECONDS="1",
            CELERY_TASK_TIME_LIMIT="6",
            ORDER_EMAIL_CLAIM_SECONDS="8",
            CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
            METRICS_ALLOWED_NETWORKS="127.0.0.0/8",  # /readyz's details, the operator's view
        ),
        tmp_path,
        sink=smtp_sink,
    )
    yield shop
    shop.stop()


@pytest.fixture
def products(make_product):
    return [make_product(name="Blue mug", price=Decimal("7.00"), stock=500)]


def checkout(web, products, email):
    shopper = Shopper(web.base_url)
    for product in products:
        assert shopper.add_to_cart(product.id, 1) == 302
    status, location, body, seconds = shopper.checkout({**CUSTOMER, "email": email})
    return placed_order_number(status, body) is not None, seconds, body[:300]


def recipients(sink):
    with sink.lock:
        return [str(message["To"]) for message in sink.messages]


def emailed(sink, order_id):
    return sink.order_ids().count(order_id)


def test_killing_the_node_that_leads_the_queue_loses_no_order_email_and_pauses_the_worker_briefly(
    cluster, shop, products
):
    """One SIGKILL, no restart (a node restart costs ~15 s of the CI budget): the node that leads the quorum
    queue, and through which web and worker are connected (the first URL of the list), dies mid-checkouts."""
    web = shop.web()
    shop.worker(beat=True)
    ok, _, body = checkout(web, products, "warm-up@example.com")  # connections and queue exist before the fault
    assert ok, body
    wait_until(lambda: len(shop.sink.messages) == 1, what="the warm-up email")
    leader = cluster.leader(TASK_QUEUE)
    assert leader is cluster.nodes[0] and len(cluster.members(TASK_QUEUE)) == 3
    assert cluster.consumer_nodes(TASK_QUEUE) == [leader.name]  # the worker consumes through the leader

    results = []

    def shopping():
        for number in range(8):
            results.append(checkout(web, products, f"shopper{number}@example.com"))
            time.sleep(0.25)

    shoppers = threading.Thread(target=shopping)
    shoppers.start()
    wait_until(lambda: len(results) >= 2, timeout=30, what="two orders before the fault")
    killed_at = time.monotonic()
    first_after = f"shopper{len(results) + 1}@example.com"  # its checkout starts after the kill
    cluster.kill(leader)
    wait_until(
        lambda: first_after in recipients(shop.sink),
        timeout=60,
        what="the worker to email an order placed after the failover",
    )
    paused = time.monotonic() - killed_at
    print(f"an order placed after the kill was emailed {paused:.2f} s after the node was killed")
    shoppers.join(60)

    assert [ok for ok, _, _ in results] == [True] * 8, [body for ok, _, body in results if not ok]
    slowest = max(seconds for _, seconds, _ in results)
    assert slowest < 1.5, f"a checkout took {slowest:.2f} s during the failover"
    assert paused < 5, f"no email for {paused:.1f} s after the worker lost its node"
    new_leader = cluster.leader(TASK_QUEUE)
    assert new_leader is not None and new_leader is not leader
    orders = list(Order.objects.exclude(email="warm-up@example.com").values_list("id", flat=True))
    assert len(orders) == 8
    wait_until(
        lambda: all(emailed(shop.sink, order_id) for order_id in orders),
        timeout=90,
        what="every order emailed after the failover",
    )
    wait_until(
        lambda: OrderEmail.objects.filter(kind="confirmation", state="sent").count() == 9,
        timeout=20,
        what="every order marked sent",
    )
    time.sleep(1)  # a late duplicate would arrive now
    assert [emailed(shop.sink, order_id) for order_id in orders] == [1] * 8
    assert set(cluster.consumer_nodes(TASK_QUEUE)) - {leader.name}  # the worker consumes through another node

    # The web server stays ready with one node down, and says which one.
    with urllib.request.urlopen(web.base_url + "/readyz", timeout=5) as response:
        assert response.status == 200
        nodes = json.loads(response.read())["details"]["broker"]["nodes"]
    assert sorted(answer == "ok" for answer in nodes.values()) == [False, True, True]
    assert f":{leader.port}/" in next(node for node, answer in nodes.items() if answer != "ok")
