"""The daily order caps hold exactly when checkouts race: sent at the same moment, each from a process of its
own, through gunicorn with two workers, on the production cache (Redis)."""

import pytest
import redis
from django.db import connection

from orders.models import Order
from testkit.caches import TEST_REDIS_URL, redis_cache_or_skip
from testkit.database import database_url
from testkit.processes import shop_environment, start_gunicorn
from testkit.shopper import Shopper, checkouts_at_once, placed_order_number


@pytest.fixture
def gunicorn_with_caps(transactional_db, tmp_path):
    """Start gunicorn (two workers) with the given caps, on the test database and the suite's Redis."""
    redis_cache_or_skip()
    started = []

    def start(**caps):
        for key in redis.Redis.from_url(TEST_REDIS_URL).scan_iter("*orderlimit*"):
            redis.Redis.from_url(TEST_REDIS_URL).delete(key)
        env = shop_environment(
            database=database_url(connection.settings_dict),
            broker="amqp://guest:guest@127.0.0.1:1//",  # the email is owed in the outbox; not this test's subject
            CACHE_URL=TEST_REDIS_URL,
            **{name: str(value) for name, value in caps.items()},
        )
        started.append(start_gunicorn(env, tmp_path, workers=2))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def race(web, product, customers):
    shoppers = [Shopper(web.base_url) for _ in customers]
    for shopper in shoppers:
        assert shopper.add_to_cart(product.id, 1) == 302
    return checkouts_at_once(shoppers, customers)


def test_checkouts_racing_from_one_client_place_exactly_its_daily_cap(gunicorn_with_caps, make_product, customer):
    web = gunicorn_with_caps(ORDER_MAX_PER_CLIENT_PER_DAY=4, ORDER_MAX_PER_EMAIL_PER_DAY=0)
    product = make_product(stock=100)
    answers = race(web, product, [{**customer, "email": f"shopper{n}@example.com"} for n in range(9)])
    placed = [answer for answer in answers if placed_order_number(*answer)]
    refused = [answer for answer in answers if answer[0] == 400 and "orders a day from one connection" in answer[1]]
    assert (len(placed), len(refused)) == (4, 5), [status for status, _ in answers]
    assert Order.objects.count() == 4


def test_checkouts_racing_for_one_mailbox_place_exactly_its_daily_cap(gunicorn_with_caps, make_product, customer):
    web = gunicorn_with_caps(ORDER_MAX_PER_CLIENT_PER_DAY=0, ORDER_MAX_PER_EMAIL_PER_DAY=3)
    product = make_product(stock=100)
    # One mailbox, written six ways.
    emails = ["ada@example.com", "Ada@example.com", "ada+1@example.com", "ADA+x@Example.com", "ada@EXAMPLE.com"]
    emails.append("ada+shop@example.com")
    answers = race(web, product, [{**customer, "email": email} for email in emails])
    placed = [answer for answer in answers if placed_order_number(*answer)]
    refused = [answer for answer in answers if answer[0] == 400 and "orders a day for one email address" in answer[1]]
    assert (len(placed), len(refused)) == (3, 3), [status for status, _ in answers]
    assert Order.objects.count() == 3
