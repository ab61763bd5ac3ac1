"""Redis (the shared cache, which holds the sessions and the abuse counters in production) unreachable in the
web tier: pages that only read still answer, a request that must store its session gets the friendly 503
with Retry-After and one log line, never a 500 with a traceback."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from tests.test_database_outage import assert_friendly_503

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens, the connection is refused


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "myshop.cache.RedisCache",
            "LOCATION": UNREACHABLE,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    return settings


@pytest.mark.django_db
def test_pages_that_only_read_still_answer_while_redis_is_unreachable(redis_down, make_product, caplog):
    product = make_product()
    client = Client(raise_request_exception=False)
    for url in (reverse("shop:product_list"), product.get_absolute_url(), reverse("cart:cart_detail")):
        assert client.get(url).status_code == 200, url
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_adding_to_the_cart_answers_503_while_redis_is_unreachable(redis_down, make_product, caplog):
    product = make_product()
    client = Client(raise_request_exception=False)
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    assert_friendly_503(response, caplog, "cache unavailable")


@pytest.mark.django_db
def test_a_checkout_while_redis_is_unreachable_answers_503_and_places_nothing(
    redis_down, make_product, customer, caplog
):
    make_product()
    client = Client(raise_request_exception=False)
    response = client.post(reverse("orders:order_create"), customer)
    # The session (and with it the cart) cannot be read: the shopper is sent to the cart page, which says
    # it is empty; nothing is ordered and nothing fails.
    assert response.status_code in (302, 503)
    assert Order.objects.count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_redis_failing_right_after_the_order_is_placed_shows_503_and_the_retry_shows_that_order(
    make_product, customer, caplog
):
    """The order is committed, then the cache fails (remembering the old session key): the shopper gets the
    503 page; pressing the button again shows the order placed, and places no second one."""
    from unittest.mock import patch

    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    from orders.tasks import order_created

    product = make_product(stock=5)
    client = Client(raise_request_exception=False)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    form = {**customer, "idempotency_key": key}
    real_set = cache.set

    def failing_set(name, *args, **kwargs):
        if name.startswith("checkout:cycled:"):
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return real_set(name, *args, **kwargs)

    with patch.object(order_created, "delay"):
        with patch.object(cache, "set", side_effect=failing_set):
            first = client.post(reverse("orders:order_create"), form)
        assert_friendly_503(first, caplog, "cache unavailable")
        assert Order.objects.count() == 1
        again = client.post(reverse("orders:order_create"), form)
    assert again.status_code == 302 and again["Location"] == reverse("orders:order_created")
    assert Order.objects.count() == 1
    assert Order.objects.get().number in client.get(reverse("orders:order_created")).content.decode()
