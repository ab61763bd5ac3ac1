"""Fixtures shared by the whole suite."""

import itertools
from decimal import Decimal

import pytest

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def no_language_left_active():
    """Deactivate the language a request left active: LocaleMiddleware activates it for the thread and never
    deactivates it, so a test that asked for /de/ would leave the next one reversing and rendering German."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def running_worker(transactional_db):
    """A real Celery worker for this test alone, consuming from the real RabbitMQ in threads of this process
    (the threads pool, one task at a time), on the run's own queue (see test_settings).

    The queue is emptied first: what other tests published (unpatched) is not this test's to run. The worker
    stops before the test's tables are emptied, after its task in hand, and each task closes its database
    connections (none is left behind when the test database is dropped). The worker sees committed rows
    only, hence `transactional_db`. (The solo pool, inside this process, picked a message up only at its
    loop's next timer, up to 10 s after it arrived.)
    """
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from celery.worker import state as worker_state
    from django.db import connections

    from myshop.celery import app

    def close_connections(**kwargs):
        connections.close_all()

    app.control.purge()
    task_postrun.connect(close_connections, weak=False, dispatch_uid="test-worker-close-connections")
    with start_worker(
        app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=15
    ) as worker:
        yield worker
        # start_worker stops the worker with a flag its event loop reads between two polls, and an idle
        # loop sleeps until its next timer (~9 s). Raise the flag first and wake the loop: it stops at once.
        worker_state.should_terminate = 0
        if getattr(worker, "hub", None) is not None:
            worker.hub.call_soon(lambda: None)
    worker_state.should_terminate = None  # the next test's worker starts afresh
    task_postrun.disconnect(dispatch_uid="test-worker-close-connections")


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
def make_coupon(db):
    """A coupon valid from a day ago for thirty days: 10 % off, no minimum, no total cap, once per customer."""
    from datetime import timedelta

    from django.utils import timezone

    from coupons.models import Coupon

    def make(**fields):
        now = timezone.now()
        fields.setdefault("code", f"SAVE{next(_sequence)}")
        fields.setdefault("valid_from", now - timedelta(days=1))
        fields.setdefault("valid_to", now + timedelta(days=30))
        fields.setdefault("value", Decimal("10"))
        return Coupon.objects.create(**fields)

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


def pytest_runtest_setup(item):
    """A test marked postgresql, run by hand on SQLite (bin/test's SQLite pass deselects them)."""
    from django.conf import settings

    if item.get_closest_marker("postgresql") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("PostgreSQL only: bin/test runs it in its PostgreSQL pass")


# Seconds each slow file took (SQLite pass, PostgreSQL pass), measured with --junitxml on 2026-12-07; any other
# test counts 0.1 s. Only used to share files between the shards of a pass (TEST_SHARD) so each gets a fair part
# of the slow ones; a stale figure costs balance, never a test. Re-measure when a slow file is added.
SHARD_SECONDS = {
    "tests/faults/test_worker_deaths.py": (93, 39),
    "tests/browser/test_shopping.py": (100, 0),
    "tests/browser/test_accounts.py": (37, 49),
    "tests/browser/test_checkout.py": (39, 40),
    "tests/faults/test_mail_server.py": (28, 45),
    "tests/faults/test_broker.py": (26, 26),
    "tests/faults/test_start_order.py": (19, 21),
    "tests/faults/test_cluster_failover.py": (0, 39),
    "tests/browser/test_storefront.py": (21, 17),
    "tests/browser/test_search.py": (18, 19),
    "tests/broker/test_email_retries.py": (16, 17),
    "tests/browser/test_admin.py": (32, 0),
    "tests/orders/test_properties.py": (13, 16),
    "tests/faults/test_database.py": (3, 25),
    "tests/security/test_deploy_checks_and_limits.py": (21, 3),
    "tests/broker/test_invoice_email.py": (12, 11),
    "tests/broker/test_german_order.py": (8, 10),
    "tests/security/test_fuzz.py": (7, 7),
    "tests/browser/test_languages.py": (0, 15),
    "tests/project/test_migrations.py": (14, 16),
    "tests/orders/test_limit_races.py": (9, 11),
    "tests/scale/test_admin_scale.py": (0, 20),
    "tests/scale/test_search_scale.py": (0, 17),
    "tests/browser/test_cart.py": (9, 8),
    "tests/coupons/test_cap_races.py": (5, 8),
    "tests/broker/test_quorum_queues.py": (0, 8),
    "tests/broker/test_worker_metrics.py": (0, 6),
    "tests/security/test_csp.py": (0, 6),
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """TEST_SHARD="i/n" keeps the i-th of n shares of the selected tests, whole files each, shared by their
    measured time (bin/test runs the shards of each pass at once: most of a slow test waits on real processes)."""
    import os

    shard = os.environ.get("TEST_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    on_postgresql = os.environ.get("DATABASE_URL", "").startswith("postgres")
    files = {}
    for item in items:
        files.setdefault(item.path, 0.0)
        files[item.path] += 0.1
    for path in files:
        measured = SHARD_SECONDS.get(path.relative_to(config.rootpath).as_posix())
        if measured:
            files[path] = max(files[path], measured[on_postgresql])
    loads, owner = [0.0] * count, {}
    for path, seconds in sorted(files.items(), key=lambda pair: (-pair[1], str(pair[0]))):  # slowest first
        lightest = loads.index(min(loads))
        owner[path] = lightest
        loads[lightest] += seconds
    config.hook.pytest_deselected(items=[item for item in items if owner[item.path] != index - 1])
    items[:] = [item for item in items if owner[item.path] == index - 1]
