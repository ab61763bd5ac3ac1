"""Query budgets: each page runs the same number of SQL queries whatever the size of the catalog or cart.

These count queries, not time, so they are stable on a noisy machine.
"""

from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from orders.tasks import order_created
from testkit.pages import thank_you_order
from testkit.waiting import wait_for


def queries(client, method, url, data=None):
    assert url.startswith(f"/{translation.get_language()}/"), url  # the page_language fixture's prefix
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302), response.status_code
    return captured


@pytest.fixture
def shop_of(make_category, make_product):
    """A catalog of `size` categories with `size` products each, and a client with `size` cart lines."""

    def build(client, size):
        categories = [make_category() for _ in range(size)]
        products = [make_product(category=categories[i % size], price=Decimal("2.00"), stock=100) for i in range(size)]
        for product in products:
            assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code == 302
        return categories[0], products[0]

    return build


def page_counts(client, django_user_model, size, shop_of, customer):
    category, product = shop_of(client, size)
    counts = {
        "product list": len(queries(client, "get", reverse("shop:product_list"))),
        "category list": len(queries(client, "get", category.get_absolute_url())),
        "product detail": len(queries(client, "get", product.get_absolute_url())),
        "cart page": len(queries(client, "get", reverse("cart:cart_detail"))),
        "checkout page": len(queries(client, "get", reverse("orders:order_create"))),
    }
    with patch.object(order_created, "delay"):
        captured = queries(client, "post", reverse("orders:order_create"), customer)
    counts["checkout"] = len(captured)
    return counts, captured


def test_query_counts_do_not_grow_with_catalog_or_cart(
    client, django_user_model, shop_of, customer, settings, transactional_db, page_language
):
    settings.SHOP_PRODUCTS_PER_PAGE = 12
    small, _ = page_counts(client, django_user_model, 1, shop_of, customer)
    client.cookies.clear()
    large, captured = page_counts(client, django_user_model, 50, shop_of, customer)
    assert large == small, f"1 item: {small}; 50 items: {large}"
    client.cookies.clear()
    with translation.override("de"):  # the /de/ pages: German names are columns of the same rows, no more queries
        german, _ = page_counts(client, django_user_model, 1, shop_of, customer)
    assert german == small, f"/en/: {small}; /de/: {german}"
    # And they are small in absolute terms (session, cart, page data). The checkout also moves the session
    # to a new key (a planted session cookie must not see the order): six more on SQLite; and the order's
    # insert runs in a savepoint (SAVEPOINT, RELEASE), so a taken order number is drawn again: two more.
    assert max(count for page, count in small.items() if page != "checkout") <= 12, small
    assert small["checkout"] <= 20, small

    inserts = [q["sql"] for q in captured.captured_queries if 'INSERT INTO "orders_orderitem"' in q["sql"]]
    assert len(inserts) == 1, "order items must be inserted in one bulk statement"
    stock_updates = [q["sql"] for q in captured.captured_queries if 'UPDATE "shop_product"' in q["sql"]]
    assert len(stock_updates) == 1, "stock must be reserved in one statement"


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_publishing_reuses_the_broker_connection(customer):
    """Twenty hand-overs to the real broker open at most one new AMQP connection."""
    import amqp
    from celery.worker import state as worker_state

    from orders.models import Order
    from orders.outbox import publish

    task = "orders.tasks.order_created"
    run_before = worker_state.total_count[task]
    orders = [Order.objects.create(**customer) for _ in range(21)]
    assert publish(orders[0].id, "confirmation")  # the pool may open its connection here
    with patch.object(amqp.Connection, "connect", autospec=True, side_effect=amqp.Connection.connect) as connect:
        assert all(publish(order.id, "confirmation") for order in orders[1:])
    assert connect.call_count == 0

    from myshop.celery import app

    with app.connection_for_write() as conn:  # leave nothing for the suite's other workers
        purged = conn.default_channel.queue_purge(app.conf.task_default_queue) or 0
    # The run's in-process worker (running_worker), if an earlier test started it, took the rest: let it finish
    # them before the tables are emptied, which would otherwise wait on (or deadlock with) its statements.
    wait_for(
        lambda: (
            worker_state.total_count[task] - run_before >= len(orders) - purged
            and not worker_state.active_requests
            and not worker_state.reserved_requests
        ),
        what="the run's worker to finish this test's hand-overs",
    )


class Statements:
    """Counts the SQL statements and the commits made inside its block, on the default connection.

    A commit is the end of an outermost transaction, or a write run in autocommit (its own transaction).
    """

    def __init__(self):
        self.statements, self.commits = [], 0

    def __enter__(self):
        self._commit = connection.commit
        connection.commit = self._counting_commit  # what an outermost atomic block ends with
        self._wrapper = connection.execute_wrapper(self._count)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)
        connection.commit = self._commit

    def _counting_commit(self):
        self.commits += 1
        return self._commit()

    def _count(self, execute, sql, params, many, context):
        self.statements.append(sql)
        if not context["connection"].in_atomic_block and sql.lstrip().upper().startswith(
            ("INSERT", "UPDATE", "DELETE")
        ):
            self.commits += 1
        return execute(sql, params, many, context)


@pytest.fixture
def production_sessions_and_limits(settings):
    """What production runs with: sessions in the shared cache (Redis there, in-process here) and the
    hoarding caps on."""
    settings.SESSION_ENGINE = "core.redis_sessions"  # production's, with Redis
    settings.ORDER_MAX_UNITS, settings.ORDER_MAX_PER_EMAIL_PER_DAY, settings.ORDER_MAX_PER_CLIENT_PER_DAY = 20, 3, 4


def test_the_checkout_post_runs_at_most_eight_statements_in_at_most_two_commits(
    client, make_product, customer, production_sessions_and_limits, transactional_db, page_language
):
    products = [make_product(stock=100) for _ in range(3)]
    for product in products:
        client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    with patch("celery.app.task.Task.apply_async"), Statements() as counted:
        response = client.post(reverse("orders:order_create"), {**customer, "idempotency_key": key})
    assert thank_you_order(response)  # the thank-you page included: no second request
    assert len(counted.statements) <= 8, "\n".join(counted.statements)
    assert counted.commits <= 2, counted.commits


def test_the_worker_sends_an_email_in_at_most_four_statements(make_product, customer, mailoutbox, transactional_db):
    from orders.services import place_order

    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={make_product().id: 1, make_product().id: 2})
    with Statements() as counted:
        assert order_created(order.id) == "sent"
    assert len(counted.statements) <= 4, "\n".join(counted.statements)
