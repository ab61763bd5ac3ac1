"""Redis (the shared cache, which holds the sessions and the abuse counters in production) unreachable in the
web tier: pages that only read still answer, a request that must store its session gets the friendly 503
with Retry-After and one log line, never a 500 with a traceback."""

import logging
from unittest.mock import patch

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from testkit.pages import assert_friendly_503, thank_you_order

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens, the connection is refused


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": UNREACHABLE,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    settings.SESSION_ENGINE = "core.redis_sessions"  # production's, with Redis
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
def test_redis_failing_in_the_middle_of_a_checkout_with_a_filled_cart_answers_503_and_orders_once(
    settings, make_product, customer, caplog
):
    """The cart is in Redis; Redis goes away after the checkout has read the session (the order is placed,
    the session cannot be stored). The shopper gets the friendly 503; pressing the button again once Redis
    is back shows that same order, never a second one."""
    from django.core.cache import caches
    from redis.exceptions import ConnectionError as RedisConnectionError

    from orders.tasks import order_created
    from testkit.caches import redis_cache_or_skip

    settings.CACHES = redis_cache_or_skip()
    settings.SESSION_ENGINE = "core.redis_sessions"
    product = make_product(stock=5)
    client = Client(raise_request_exception=False)
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2}).status_code == 302
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    form = {**customer, "idempotency_key": key}

    redis_client = caches["default"].client.get_client(write=True)
    real = redis_client.execute_command
    calls = []

    def failing_after_the_load(*args, **options):
        calls.append(args[0])
        if len(calls) > 1:  # the session's GET went through; everything after it finds Redis gone
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return real(*args, **options)

    try:
        with patch.object(order_created, "delay"):
            with patch.object(redis_client, "execute_command", failing_after_the_load):
                response = client.post(reverse("orders:order_create"), form)
            assert response.status_code == 503 and int(response["Retry-After"]) > 0
            assert "back in a moment" in response.content.decode() and "Traceback" not in response.content.decode()
            assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
            assert calls[0] == "GET" and Order.objects.count() == 1  # placed before the session was to be stored
            again = client.post(reverse("orders:order_create"), form)  # Redis is back
        assert thank_you_order(again) == Order.objects.get()
        product.refresh_from_db()
        assert product.stock == 3
    finally:
        caches["default"].clear()


def _fail_the_cycled_key_mapping(cache):
    """cache.set failing, as Redis down would, for the mapping a checkout writes after its commit."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    real_set = cache.set

    def failing_set(name, *args, **kwargs):
        if name.startswith("checkout:cycled:"):
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return real_set(name, *args, **kwargs)

    return patch.object(cache, "set", side_effect=failing_set)


@pytest.mark.django_db
def test_with_sessions_in_the_database_a_redis_outage_does_not_stop_a_checkout(make_product, customer, caplog):
    """SESSION_ENGINE=core.sessions (the default without a shared cache) keeps Redis out of shopping: the
    mapping of the old session key, written for a double click, is best effort."""
    from django.core.cache import cache

    from orders.tasks import order_created

    product = make_product(stock=5)
    client = Client(raise_request_exception=False)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    with patch.object(order_created, "delay"), _fail_the_cycled_key_mapping(cache):
        response = client.post(reverse("orders:order_create"), {**customer, "idempotency_key": key})
    assert thank_you_order(response) == Order.objects.get()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_pressing_the_button_again_after_a_503_shows_the_order_even_at_the_daily_cap(
    make_product, customer, settings, caplog
):
    """The order is committed, then saving the session fails (the 503 page): the old session still holds
    the cart and the form's key. Pressing the button again must show the order placed, not refuse it because
    that very order already reached the day's cap for this address (before: a 400, "at most 1 orders a day")."""
    from django.contrib.sessions.models import Session
    from django.db import OperationalError

    from orders.tasks import order_created

    settings.ORDER_MAX_PER_EMAIL_PER_DAY = 1
    settings.ORDER_MAX_PER_CLIENT_PER_DAY = 1
    product = make_product(stock=5)
    client = Client(raise_request_exception=False)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    form = {**customer, "idempotency_key": key}
    with patch.object(order_created, "delay"):
        with patch.object(Session, "save", side_effect=OperationalError("server closed the connection")):
            first = client.post(reverse("orders:order_create"), form)
        assert first.status_code == 503 and Order.objects.count() == 1
        again = client.post(reverse("orders:order_create"), form)
    assert thank_you_order(again) == Order.objects.get(), again.content[:3000]
