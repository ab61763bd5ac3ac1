"""Sessions: none for a visitor who has done nothing, expired ones cleared on a schedule, a new key once an
order is placed."""

from datetime import timedelta
from unittest.mock import patch

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.tasks import order_created
from testkit.pages import thank_you_order


def test_a_visitor_who_has_done_nothing_gets_no_session_row(client, make_product):
    product = make_product()
    urls = [
        reverse("shop:product_list"),
        product.category.get_absolute_url(),
        product.get_absolute_url(),
        reverse("cart:cart_detail"),
        reverse("orders:order_create"),
        reverse("orders:thank_you"),
    ]
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert settings.SESSION_COOKIE_NAME not in response.cookies, url
    assert Session.objects.count() == 0


def test_expired_sessions_are_cleared_by_a_periodic_task(db):
    from core.tasks import clear_expired_sessions
    from myshop.celery import app

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "core.tasks.clear_expired_sessions" in scheduled
    app.loader.import_default_modules()
    assert "core.tasks.clear_expired_sessions" in app.tasks  # the worker finds it

    now = timezone.now()
    Session.objects.create(session_key="a" * 32, session_data="", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="b" * 32, session_data="", expire_date=now + timedelta(days=1))
    clear_expired_sessions()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]


def test_a_planted_session_cookie_does_not_see_the_order(
    make_product, customer, django_capture_on_commit_callbacks, session_store
):
    product = make_product(stock=10)
    attacker = Client()
    attacker.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    planted = attacker.cookies[settings.SESSION_COOKIE_NAME].value

    victim = Client()
    victim.cookies[settings.SESSION_COOKIE_NAME] = planted  # e.g. set through a sibling subdomain
    victim.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        placed = victim.post(reverse("orders:order_create"), customer)
    order = Order.objects.get()
    assert thank_you_order(placed) == order

    seen = attacker.get(reverse("orders:thank_you"))
    assert seen.status_code == 302 and str(order.token) not in seen.content.decode()
    assert victim.cookies[settings.SESSION_COOKIE_NAME].value != planted
    assert victim.get(reverse("orders:thank_you")).context["order"] == order


def test_a_shopper_keeps_the_cart_across_requests_in_either_store(make_product, session_store):
    product = make_product(stock=10)
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    assert "3 items" in client.get(reverse("cart:cart_detail")).content.decode()


def test_the_suite_clears_a_redis_database_of_its_own_never_the_shops(settings):
    """Tests empty their Redis database after them (Django's clear() is FLUSHDB, whatever the key prefix):
    it must be one of the suite's own, never database 0, where a developer's shop keeps its sessions."""
    import uuid

    import redis
    from django.core.cache import caches

    from testkit.caches import redis_cache_or_skip

    shop = redis.Redis(host="127.0.0.1", port=6379, db=0)
    key = f"myshop-not-a-test-key-{uuid.uuid4().hex}"
    settings.CACHES = redis_cache_or_skip()
    shop.set(key, "kept", ex=60)
    try:
        caches["default"].clear()
        assert shop.get(key) == b"kept"
    finally:
        shop.delete(key)


def test_a_session_cookie_no_store_could_have_issued_is_a_new_visitor_not_an_error(make_product, session_store):
    """PostgreSQL refuses a NUL byte in a query (found by tests/security/test_fuzz.py): such a key is never
    looked up, in either store."""
    product = make_product()
    for planted in ["0000000\x00", "abcdefgh\x00ijkl", "ABCDEFGH12345678", "../../etc/passwd"]:
        client = Client(HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={planted}")
        response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
        assert response.status_code == 302, planted
        issued = response.cookies[settings.SESSION_COOKIE_NAME].value
        assert issued != planted and len(issued) == 32, planted
