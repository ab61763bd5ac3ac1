"""Fixtures shared by the whole suite."""
import itertools
import time
from decimal import Decimal

import pytest

_sequence = itertools.count(1)


def wait_for(condition, *, timeout=15.0, interval=0.05, message="condition"):
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def make_category(db):
    from shop.models import Category

    def make(**fields):
        n = next(_sequence)
        fields.setdefault("name", f"Category {n}")
        fields.setdefault("slug", f"category-{n}")
        return Category.objects.create(**fields)

    return make


@pytest.fixture
def make_product(db, make_category):
    from shop.models import Product

    def make(**fields):
        n = next(_sequence)
        if "category" not in fields:
            fields["category"] = make_category()
        fields.setdefault("name", f"Product {n}")
        fields.setdefault("slug", f"product-{n}")
        fields.setdefault("price", Decimal("10.00"))
        fields.setdefault("stock", 10)
        return Product.objects.create(**fields)

    return make


@pytest.fixture
def customer():
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "address": "12 Analytical Street",
        "postal_code": "10115",
        "city": "Berlin",
    }
