"""Fixtures for the fault tests: a private RabbitMQ node, a local SMTP server, and the shop's web server
and workers as subprocesses with production settings against the test's database. Chromium for the browser
tests (and the Content-Security-Policy's). And session housekeeping on the shared broker: the run's own task
queue is removed when the run ends."""

import os
import shutil
import uuid
import warnings
from decimal import Decimal

import pytest
import redis
from django.db import connection, connections

from testkit.browser import CHROMIUM, CHROMIUM_ARGS
from testkit.caches import TEST_REDIS_URL
from testkit.database import database_url
from testkit.processes import ShopProcesses, shop_environment
from testkit.rabbit import RabbitNode, delete_queue_and_exchange
from testkit.smtp import SmtpSink


@pytest.fixture(scope="session")
def rabbit_node():
    if shutil.which("rabbitmq-server") is None or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("fault tests need rabbitmq-server and root to start a private node")
        pytest.skip("fault tests need rabbitmq-server and root to start a private RabbitMQ node")
    node = RabbitNode().start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def shop(rabbit_node, smtp_sink, tmp_path, transactional_db, request):
    """Starts web and workers on demand against the private broker and the SMTP sink; stops them after."""
    smtp_sink.reset()
    rabbit_node.purge()
    shop = ShopProcesses(
        shop_environment(
            database=database_url(connection.settings_dict),
            broker=rabbit_node.url,
            smtp_port=smtp_sink.port,
            ORDER_EMAIL_RETRY_BASE_SECONDS="0.2",
            ORDER_EMAIL_MAX_ATTEMPTS="4",
            ORDER_EMAIL_SWEEP_SECONDS="1",
            CELERY_TASK_TIME_LIMIT="6",
            ORDER_EMAIL_CLAIM_SECONDS="6",
            CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
        ),
        tmp_path,
        node=rabbit_node,
        sink=smtp_sink,
    )
    yield shop
    shop.stop()


@pytest.fixture
def paying_shop(shop, tmp_path, products):
    """The shop with its webhook address known to the workers, and invoices in a private folder."""
    shop.env.update(PRIVATE_MEDIA_ROOT=str(tmp_path / "private"), PAYMENT_OFFLINE_CONFIRM_SECONDS="0.5")
    shop.web_process = shop.web()
    shop.env["SHOP_SITE_URL"] = shop.web_process.base_url  # where the provider posts, and the emails link to
    return shop


@pytest.fixture
def products(make_product):
    return [
        make_product(name="Blue mug", price=Decimal("7.00"), stock=500),
        make_product(name="Teapot", price=Decimal("20.50"), stock=500),
    ]


# --- The shared broker, left as found ---------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _remove_the_run_queue_at_the_end():
    """Runs last: after the session's worker has stopped, the run's queue and its exchange are deleted."""
    yield
    from django.conf import settings

    name = settings.CELERY_TASK_DEFAULT_QUEUE
    if not name.startswith("myshop-test-"):
        return  # never a production queue, whatever TEST_CELERY_QUEUE says
    try:
        if not delete_queue_and_exchange(settings.CELERY_BROKER_URL, name):
            warnings.warn(f"the run's queue {name} is still on the broker", stacklevel=2)
    except Exception as error:  # the broker is gone: the queue expires by itself (x-expires)
        warnings.warn(f"could not delete the run's queue {name}: {type(error).__name__}: {error}", stacklevel=2)


@pytest.fixture(params=["database", "redis"])
def session_store(request, settings):
    """Both stores the shop runs with: the database's (no shared cache) and Redis's (production)."""
    if request.param == "redis":
        from django.core.cache import caches

        from testkit.caches import redis_cache_or_skip

        settings.CACHES = redis_cache_or_skip()
        settings.SESSION_ENGINE = "core.redis_sessions"
        yield request.param
        caches["default"].clear()
    else:
        settings.SESSION_ENGINE = "core.sessions"
        yield request.param


# --- The browser tests ------------------------------------------------------------------------------


@pytest.fixture
def browser(transactional_db, live_server, monkeypatch):
    """Headless Chromium, for one test.

    While Playwright's sync API is active it marks an asyncio loop as running on this thread (between two
    calls too), so Django would refuse the test's own ORM calls with SynchronousOnlyOperation. The
    permission is granted here, for the lifetime of the browser only: set at module level it would switch
    Django's check off for the whole pytest session. Per test, not per module: the browser must be gone
    (and the permission withdrawn) before `transactional_db` flushes the database after the test.
    """
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} not found: install Debian's chromium package (never `playwright install`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            # With a loop "running", Django keeps this thread's connections apart (asgiref's Local switches
            # to context storage): the ORM calls made beside the browser used connections of their own,
            # which the test's teardown never sees. Close them while they are still reachable, or they
            # stay open and PostgreSQL refuses to drop the test database ("being accessed by other users").
            connections.close_all()


@pytest.fixture
def recs(settings):
    """The Redis that keeps recommendations: the suite's, under a key prefix of this test's own, emptied after."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is expected at {TEST_REDIS_URL} under CI")
        pytest.skip(f"no Redis at {TEST_REDIS_URL}")
    settings.RECOMMENDATIONS_REDIS_URL = TEST_REDIS_URL
    settings.RECOMMENDATIONS_KEY_PREFIX = prefix = f"test-recs-{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    yield connection
    for key in connection.scan_iter(f"{prefix}:*"):
        connection.delete(key)
