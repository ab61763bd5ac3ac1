"""Bought together: counted once per paid order, rebuilt to the same sets, shown on product and cart pages, and
the category's best sellers standing in when there is no history or Redis is away."""

import io
import socket
import time
import uuid
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from orders.models import Order
from orders.services import change_status, place_order
from recommendations import services, store
from recommendations.tasks import count_paid_order
from testkit.caches import TEST_REDIS_URL


@pytest.fixture(autouse=True)
def _no_best_sellers_kept():
    cache.clear()  # kept by an earlier test, perhaps for a category id this test's database reuses


@pytest.fixture
def item(make_product):
    """A product named `name`, a word no other product's name contains (pages are searched for it)."""

    def make(name, **fields):
        return make_product(name=f"{name} {uuid.uuid4().hex[:6]}", **fields)

    return make


@pytest.fixture
def paid(make_product, customer):
    """paid(*products, status=PAID): an order of one of each, placed as checkout does and then paid."""

    def pay(*products, status=Order.Status.PAID, quantity=1):
        with patch("celery.app.task.Task.apply_async"):
            order = place_order(customer=customer, quantities={product.id: quantity for product in products})
            if status != Order.Status.PENDING:
                change_status(order_ids=[order.id], to=Order.Status.PAID)
            if status not in (Order.Status.PAID, Order.Status.PENDING):
                change_status(order_ids=[order.id], to=status)
        return order

    return pay


def sets(connection, prefix):
    """{product id: {other id: score}} of every live set."""
    found = {}
    for key in connection.scan_iter(f"{prefix}:bought-with:*"):
        product_id = int(key.decode().rsplit(":", 1)[1])
        found[product_id] = {int(m): s for m, s in connection.zrange(key, 0, -1, withscores=True)}
    return found


def product_page(client, product):
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_paying_publishes_the_count_once_the_payment_commits(
    recs, make_product, customer, django_capture_on_commit_callbacks
):
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={make_product().id: 1})
    with patch.object(count_paid_order, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            change_status(order_ids=[order.id], to=Order.Status.PAID)
            delay.assert_not_called()  # a rolled back payment is never counted
    delay.assert_called_once_with(order.id)


def test_a_broker_that_refuses_the_count_does_not_fail_the_payment(
    recs, make_product, customer, django_capture_on_commit_callbacks
):
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={make_product().id: 1})
    with patch.object(count_paid_order, "delay", side_effect=OSError("broker away")):
        with django_capture_on_commit_callbacks(execute=True):
            change_status(order_ids=[order.id], to=Order.Status.PAID)
    assert Order.objects.get(id=order.id).status == Order.Status.PAID


def test_an_order_delivered_twice_counts_once(recs, make_product, paid, settings):
    a, b, c = make_product(), make_product(), make_product()
    first, second = paid(a, b, c), paid(a, b)
    assert services.count_paid_order(first.id) is True
    assert services.count_paid_order(first.id) is False  # a replay, or a second delivery
    assert count_paid_order(first.id) is False  # the task itself, as the worker runs it
    assert services.count_paid_order(second.id) is True
    assert sets(recs, settings.RECOMMENDATIONS_KEY_PREFIX) == {
        a.id: {b.id: 2, c.id: 1},
        b.id: {a.id: 2, c.id: 1},
        c.id: {a.id: 1, b.id: 1},
    }


def test_an_order_not_paid_is_not_counted(recs, make_product, paid):
    order = paid(make_product(), make_product(), status=Order.Status.PENDING)
    assert services.count_paid_order(order.id) is False
    assert services.count_paid_order(987654321) is False  # no such order
    assert not store.is_counted(recs, order.id)


def test_the_task_retries_through_the_broker_while_redis_is_away(recs, make_product, paid, settings):
    order = paid(make_product(), make_product())
    settings.RECOMMENDATIONS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with patch.object(count_paid_order, "retry", side_effect=Retry) as retry, pytest.raises(Retry):
        count_paid_order(order.id)
    assert retry.call_args.kwargs["countdown"] > 0
    settings.RECOMMENDATIONS_REDIS_URL = TEST_REDIS_URL
    assert count_paid_order(order.id) is True  # the retry, once Redis is back


def test_rebuilding_gives_what_counting_gave_and_keeps_the_orders_counted(recs, make_product, paid, settings):
    a, b, c, d = (make_product() for _ in range(4))
    orders = [paid(a, b), paid(a, b, c), paid(c, d, status=Order.Status.SHIPPED), paid(b, d)]
    paid(a, d, status=Order.Status.PENDING)  # never paid: not counted either way
    for order in orders:
        services.count_paid_order(order.id)
    prefix = settings.RECOMMENDATIONS_KEY_PREFIX
    counted = sets(recs, prefix)

    recs.zadd(f"{prefix}:bought-with:{d.id}", {a.id: 99})  # drift the rebuild must repair
    said = io.StringIO()
    call_command("rebuild_recommendations", stdout=said)

    assert sets(recs, prefix) == counted
    assert "Counted 4 paid order(s): 4 product(s)" in said.getvalue()
    assert list(recs.scan_iter(f"{prefix}:rebuild:*")) == []  # nothing of the build is left
    for order in orders:  # a delivery that comes after the rebuild counts nothing again
        assert services.count_paid_order(order.id) is False
    assert sets(recs, prefix) == counted


def test_an_order_paid_while_the_rebuild_runs_is_not_lost(recs, make_product, paid, settings):
    a, b = make_product(), make_product()
    write_rebuild = store.write_rebuild

    def paid_meanwhile(*args, **kwargs):
        services.count_paid_order(paid(a, b).id)  # after the rebuild read the orders: into the keys it replaces
        write_rebuild(*args, **kwargs)

    with patch.object(store, "write_rebuild", side_effect=paid_meanwhile):
        services.rebuild()
    assert sets(recs, settings.RECOMMENDATIONS_KEY_PREFIX) == {a.id: {b.id: 1}, b.id: {a.id: 1}}


def test_a_paid_order_cancelled_later_drops_out_at_the_rebuild(recs, make_product, paid, settings):
    a, b = make_product(), make_product()
    order = paid(a, b)
    services.count_paid_order(order.id)
    with patch("celery.app.task.Task.apply_async"):
        change_status(order_ids=[order.id], to=Order.Status.CANCELLED)
    services.rebuild()
    assert sets(recs, settings.RECOMMENDATIONS_KEY_PREFIX) == {}
    assert not store.is_counted(recs, order.id)


def test_the_product_page_shows_what_was_bought_with_it(recs, client, item, paid):
    a, b, c, withdrawn = item("Teapot"), item("Kettle"), item("Strainer"), item("Withdrawn")
    for order in (paid(a, b), paid(a, b), paid(a, c), paid(a, withdrawn), paid(a, withdrawn)):
        services.count_paid_order(order.id)
    withdrawn.available = False
    withdrawn.save()

    page = product_page(client, a)

    assert "Customers also bought" in page
    assert page.index(b.name) < page.index(c.name)  # bought with it more often: first
    assert withdrawn.name not in page


def test_with_no_history_the_category_best_sellers_stand_in(client, make_category, item, paid):
    teas, coffees = make_category(name="Teas"), make_category(name="Coffees")
    new, popular, steady = (item(name, category=teas) for name in ("Assam", "Darjeeling", "Sencha"))
    elsewhere = item("Mocha", category=coffees)
    paid(popular, quantity=3)
    paid(steady)
    paid(steady, status=Order.Status.CANCELLED)
    paid(new, status=Order.Status.PENDING)
    paid(elsewhere, quantity=5)

    page = product_page(client, new)

    assert "Popular in Teas" in page
    assert page.index(popular.name) < page.index(steady.name)
    assert elsewhere.name not in page
    assert "Popular in Coffees" not in product_page(client, elsewhere)  # no other coffee sold: no section


def test_the_german_product_page_titles_the_best_sellers_in_german(client, make_category, item, paid):
    teas = make_category(name="Tees")
    new, popular = item("Assam", category=teas), item("Sencha", category=teas)
    paid(popular)
    try:
        with translation.override("de"):
            url = new.get_absolute_url()
        page = client.get(url).content.decode()
    finally:
        translation.deactivate()  # the /de/ request left German active in this thread
    assert url.startswith("/de/") and "Beliebt in Tees" in page and popular.name in page


def test_a_product_page_with_nothing_to_suggest_has_no_section(client, make_product):
    assert "suggestions" not in product_page(client, make_product())


@pytest.mark.parametrize("redis_url", ["refused", "silent"])
def test_with_redis_away_or_silent_the_page_shows_best_sellers_at_once(
    recs, client, make_category, item, paid, settings, redis_url
):
    teas = make_category(name="Teas")
    a, b = item("Assam", category=teas), item("Darjeeling", category=teas)
    services.count_paid_order(paid(a, b).id)
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = 1 if redis_url == "refused" else silent.getsockname()[1]
        settings.RECOMMENDATIONS_REDIS_URL = f"redis://127.0.0.1:{port}/0"
        started = time.monotonic()
        page = product_page(client, a)
        elapsed = time.monotonic() - started
    assert "Popular in Teas" in page and b.name in page
    assert elapsed < 1.0, elapsed


def test_the_cart_suggests_what_goes_with_it_but_not_what_is_in_it(recs, client, item, paid):
    a, b, c, d = item("Teapot"), item("Kettle"), item("Strainer"), item("Cosy")
    withdrawn = item("Withdrawn")
    for order in (paid(a, b, c), paid(a, c), paid(b, d), paid(a, withdrawn)):
        services.count_paid_order(order.id)
    withdrawn.available = False
    withdrawn.save()
    for product in (a, b):
        client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})

    response = client.get(reverse("cart:cart_detail"))

    assert response.status_code == 200
    page = response.content.decode()
    section = page[page.index("Often bought with your cart") :]
    assert section.index(c.name) < section.index(d.name)  # c: 2 + 1 orders with the cart's items, d: 1
    assert a.name not in section and b.name not in section and withdrawn.name not in section


def test_rebuilding_without_redis_says_what_to_set(settings):
    settings.RECOMMENDATIONS_REDIS_URL = ""
    with pytest.raises(CommandError, match="RECOMMENDATIONS_REDIS_URL"):
        call_command("rebuild_recommendations")


@pytest.mark.any_database
def test_beat_rebuilds_every_night_with_a_registered_task(settings):
    from celery.schedules import crontab

    from myshop.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["rebuild-recommendations"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] == crontab(hour=settings.RECOMMENDATIONS_REBUILD_HOUR, minute=17)
