"""Whatever starts first: a countdown published before any worker has run on the broker reaches the worker
that starts later (native delayed delivery routes it through bindings a worker used to be the one to declare)."""

import uuid
from unittest.mock import patch

import pytest
from django.db import connection

from orders.models import OrderEmail
from orders.services import place_order
from orders.tasks import order_created
from testkit.database import database_url
from testkit.processes import ShopProcesses, manage, shop_environment
from testkit.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def lay_only_the_delayed_exchanges(broker):
    """What a vhost holds when our queue is not bound yet (a worker half started, or one of another queue)."""
    from kombu import Connection
    from kombu.transport.native_delayed_delivery import declare_native_delayed_delivery_exchanges_and_queues

    with Connection(broker, connect_timeout=5) as broker_connection:
        declare_native_delayed_delivery_exchanges_and_queues(broker_connection, "quorum")


@pytest.mark.parametrize("vhost_holds", ["nothing", "the delayed exchanges, our queue unbound"])
def test_a_countdown_published_before_any_worker_ran_is_delivered_once_one_starts(
    rabbit_node, smtp_sink, tmp_path, make_product, customer, vhost_holds
):
    vhost = f"startorder-{uuid.uuid4().hex[:6]}"  # fresh: no worker has ever declared anything here
    rabbit_node.add_vhost(vhost)
    broker = rabbit_node.url.rstrip("/") + "/" + vhost
    if vhost_holds != "nothing":
        lay_only_the_delayed_exchanges(broker)  # without the fix, the countdown is dead-lettered to nowhere
    smtp_sink.reset()
    env = shop_environment(
        database=database_url(connection.settings_dict),
        broker=broker,
        smtp_port=smtp_sink.port,
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
    )
    with patch.object(order_created, "delay"):  # owed, not published: the countdown below is the only message
        order = place_order(customer=customer, quantities={make_product().id: 1})
    # A web process's publish, as the offline provider's approval or an email retry makes it.
    manage(
        env,
        "shell",
        "-c",
        f"from orders.tasks import order_created; order_created.apply_async(({order.id},), countdown=1)",
    )
    # Due before any worker runs: the message has left the delayed queue, for our queue or for nowhere.
    wait_until(lambda: rabbit_node.queue_depth("celery_delayed_0", vhost=vhost) == 0, timeout=30, what="due")
    shop = ShopProcesses(env, tmp_path)
    try:
        shop.worker()  # no beat: no sweep would send the email instead
        wait_until(lambda: smtp_sink.order_ids() == [order.id], timeout=60, what="the email, through the countdown")
    finally:
        shop.stop()
    assert OrderEmail.objects.get(order=order, kind="confirmation").attempts == 1
