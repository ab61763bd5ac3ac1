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
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
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
