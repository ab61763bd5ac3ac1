"""Fixtures shared by the whole suite."""

import itertools
from decimal import Decimal

import pytest

_sequence = itertools.count(1)


@pytest.fixture(scope="session")
def running_worker(django_db_setup):
    """A real Celery worker consuming from the real RabbitMQ, in a thread of this process (solo pool).

    One for the whole run, on the run's own queue (see test_settings); tasks touch the database only while
    a test that allows it runs. Tests that use it need `django_db(transaction=True)`: the worker sees
    committed rows only.
    """
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state as worker_state

    from myshop.celery import app

    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=15
    ) as worker:
        yield worker
        # start_worker stops the worker with a flag its event loop reads between two polls, and an idle
        # loop sleeps until its next timer (~9 s). Raise the flag first and wake the loop: it stops at once.
        worker_state.should_terminate = 0
        if getattr(worker, "hub", None) is not None:
            worker.hub.call_soon(lambda: None)


@pytest.fixture
def worker_outbox(running_worker, mailoutbox):
    """The running worker; the emails it sends land in the returned list (Django's locmem outbox)."""
    return mailoutbox


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
