"""A coupon's caps hold exactly when checkouts race: sent at the same moment, each from a process of its own,
through gunicorn with two workers (as tests/orders/test_limit_races.py does for the order caps)."""

from decimal import Decimal

import pytest
from django.db import connection

from coupons.models import CustomerUse
from orders.models import Order
from testkit.caches import TEST_REDIS_URL, redis_cache_or_skip
from testkit.database import database_url
from testkit.processes import shop_environment, start_gunicorn
from testkit.shopper import Shopper, checkouts_at_once, placed_order_number


@pytest.fixture
def web(transactional_db, tmp_path):
    redis_cache_or_skip()
    env = shop_environment(
        database=database_url(connection.settings_dict),
        broker="amqp://guest:guest@127.0.0.1:1//",  # the email is owed in the outbox; not this test's subject
        CACHE_URL=TEST_REDIS_URL,
        RATE_LIMIT_COUPON="",
    )
    process = start_gunicorn(env, tmp_path, workers=2)
    yield process
    process.stop()


def race(web, make_product, code, customers, refusal):
    """Each customer's shopper puts a product of its own in the cart (no shared row lock orders them), applies
    `code`, then all check out at once."""
    shoppers = [Shopper(web.base_url) for _ in customers]
    for shopper in shoppers:
        assert shopper.add_to_cart(make_product(price=Decimal("20.00")).id, 1) == 302
        assert shopper.request("POST", f"{shopper.pages}/cart/coupon/apply/", {"code": code})[0] == 302
    answers = checkouts_at_once(shoppers, customers)
    placed = [answer for answer in answers if placed_order_number(*answer)]
    refused = [answer for answer in answers if answer[0] == 400 and refusal in answer[1]]
    return placed, refused, answers


def test_racing_checkouts_take_exactly_a_coupons_total_and_per_customer_caps(web, make_product, make_coupon, customer):
    total = make_coupon(code="FIRST3", max_uses=3, max_uses_per_customer=None)
    customers = [{**customer, "email": f"shopper{n}@example.com"} for n in range(6)]
    placed, refused, answers = race(web, make_product, "first3", customers, "The coupon FIRST3 has been used up.")
    assert (len(placed), len(refused)) == (3, 3), [status for status, _ in answers]
    total.refresh_from_db()
    assert total.uses == 3 and Order.objects.filter(coupon=total).count() == 3

    twice = make_coupon(code="TWICE", max_uses=None, max_uses_per_customer=2)
    emails = ["ada@example.com", "Ada@example.com", "ada+1@example.com", "ADA+x@Example.com"]
    customers = [{**customer, "email": email} for email in emails]
    refusal = "You have already used the coupon TWICE 2 times"
    placed, refused, answers = race(web, make_product, "TWICE", customers, refusal)
    assert (len(placed), len(refused)) == (2, 2), [status for status, _ in answers]
    assert CustomerUse.objects.get(coupon=twice).uses == 2 and Order.objects.filter(coupon=twice).count() == 2
