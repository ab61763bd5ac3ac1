"""/healthz, /readyz and /metrics: what probes and scrapers see, with the real database and broker."""

import threading
import time
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from ops import readiness
from orders.models import OrderEmail
from orders.services import place_order
from testkit.pages import thank_you_order
from testkit.silent import SilentServer
from testkit.waiting import wait_for

PROBE_HOST = "10.1.2.3:8000"  # a probe calls the pod by its address, which is not in ALLOWED_HOSTS
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def sample(families, family, suffix="", **labels):
    """The value of one sample, 0.0 when the series does not exist yet."""
    if family not in families:
        return 0.0
    for found in families[family].samples:
        if found.name == family + suffix and all(found.labels.get(k) == v for k, v in labels.items()):
            return found.value
    return 0.0


def grown(before, after, family, suffix="", **labels):
    return sample(after, family, suffix, **labels) - sample(before, family, suffix, **labels)


@pytest.fixture
def metrics_open(settings):
    settings.METRICS_TOKEN = "a-scraper-token-long-enough-to-guess-never-0123456789"
    return {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}


# --- /healthz ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_answers_without_the_database_behind_https_redirect_and_host_checks(
    client, settings, django_assert_num_queries
):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST=PROBE_HOST)
    assert response.status_code == 200 and response.content == b"ok\n"
    # The same request to a shop page is refused (wrong host): only the ops paths are exempt.
    assert client.get("/", HTTP_HOST=PROBE_HOST).status_code == 400


def test_healthz_only_answers_reads(client):
    assert client.post("/healthz").status_code in {403, 404, 405}


# --- /readyz ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_readiness(settings):
    """Every call runs the checks (no answer kept from an earlier test or call), unless a test says otherwise."""
    settings.READYZ_CACHE_SECONDS = 0
    readiness.forget()
    yield
    readiness.forget()


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_when_database_broker_and_cache_answer(client, settings, metrics_open):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/readyz", HTTP_HOST=PROBE_HOST, **metrics_open)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}
    assert list(body["details"]["broker"]["nodes"].values()) == ["ok"]  # the operator's view
    assert "guest:guest" not in response.content.decode()  # node addresses are shown without the password


@pytest.mark.django_db(transaction=True)
def test_readyz_tells_a_probe_the_verdict_and_no_address(client, settings):
    settings.CELERY_BROKER_URL = f"{CLOSED_BROKER};{settings.CELERY_BROKER_URL}"
    for response in (client.get("/readyz"), client.get("/readyz", HTTP_X_FORWARDED_FOR="10.9.9.9")):
        body = response.json()
        assert response.status_code == 200 and set(body) == {"status", "failed", "checks"}
        assert body["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}
        text = response.content.decode()
        assert "amqp" not in text and "127.0.0.1" not in text and "guest" not in text and ":1" not in text


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_broker_when_no_node_answers(client, settings, metrics_open):
    settings.CELERY_BROKER_URL = CLOSED_BROKER
    started = time.monotonic()
    response = client.get("/readyz", **metrics_open)
    assert time.monotonic() - started < settings.READYZ_TIMEOUT_SECONDS + 0.5
    body = response.json()
    assert response.status_code == 503 and body["failed"] == ["broker"]
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "failed"
    assert "127.0.0.1:1" in body["details"]["broker"]["error"]
    assert "127.0.0.1" not in client.get("/readyz").content.decode()  # the probe's view


@pytest.mark.django_db(transaction=True)
def test_readyz_is_not_ready_when_the_cache_and_sessions_do_not_answer(client, settings):
    """Redis away: cart changes and admin logins answer 503, so a load balancer must stop sending shoppers."""
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failed"] == ["cache"]


@pytest.mark.django_db(transaction=True)
def test_readyz_is_bounded_when_the_broker_accepts_and_never_answers(client, settings):
    server = SilentServer()
    try:
        settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{server.port}//"
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert response.status_code == 503 and response.json()["failed"] == ["broker"]
    assert elapsed < settings.READYZ_TIMEOUT_SECONDS + 0.5, f"/readyz took {elapsed:.2f} s"


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_while_one_broker_node_of_the_list_is_down(client, settings, metrics_open):
    settings.CELERY_BROKER_URL = f"{CLOSED_BROKER};{settings.CELERY_BROKER_URL}"
    response = client.get("/readyz", **metrics_open)
    body = response.json()
    assert response.status_code == 200, body
    nodes = body["details"]["broker"]["nodes"]
    assert nodes["amqp://guest:**@127.0.0.1:1//"].startswith(("ConnectionRefusedError", "OperationalError"))
    assert list(nodes.values())[1] == "ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_a_hung_database_within_the_bound_and_starts_no_second_check(
    client, settings, monkeypatch, metrics_open
):
    release = threading.Event()

    def hung_database(timeout):
        release.wait(10)
        return {}

    monkeypatch.setitem(readiness.CHECKS, "database", hung_database)
    try:
        started = time.monotonic()
        first = client.get("/readyz", **metrics_open)
        assert time.monotonic() - started < settings.READYZ_TIMEOUT_SECONDS + 0.5
        second = client.get("/readyz", **metrics_open)
    finally:
        release.set()
    assert first.status_code == 503 and first.json()["failed"] == ["database"]
    assert "no answer within" in first.json()["details"]["database"]["error"]
    assert second.status_code == 503
    assert second.json()["details"]["database"]["error"] == "the previous check has not answered yet"


@pytest.mark.django_db(transaction=True)
def test_readyz_under_a_burst_logs_in_to_the_broker_once_per_window(client, settings, monkeypatch):
    settings.READYZ_CACHE_SECONDS = 30  # longer than the burst takes, however slow the machine
    logins = []
    real = readiness.CHECKS["broker"]
    monkeypatch.setitem(readiness.CHECKS, "broker", lambda timeout: logins.append(1) or real(timeout))
    answers = {client.get("/readyz").status_code for _ in range(40)}
    assert answers == {200} and len(logins) == 1
    readiness.forget()  # the window over
    assert client.get("/readyz").status_code == 200 and len(logins) == 2


@pytest.mark.django_db(transaction=True)
def test_readyz_can_leave_the_broker_out_of_the_verdict(client, settings):
    settings.CELERY_BROKER_URL = CLOSED_BROKER
    settings.READYZ_REQUIRE = ["database"]
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["failed"] == ["broker"]  # reported, not decisive


# --- /metrics: who may read it ------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_closed_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 403 and b"myshop_" not in response.content


@pytest.mark.django_db
def test_metrics_need_the_exact_bearer_token(client, metrics_open, settings):
    assert client.get("/metrics", **metrics_open).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=settings.METRICS_TOKEN).status_code == 403


@pytest.mark.django_db
def test_metrics_open_to_allowed_networks_but_not_through_a_proxy(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.4.5.6").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    # A public request relayed by the proxy (which sits in the allowed network) stays out.
    assert client.get("/metrics", REMOTE_ADDR="10.4.5.6", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


@pytest.mark.any_database  # two subprocesses with settings of their own, never the suite's database
def test_production_settings_leave_metrics_closed_and_debug_opens_loopback():
    from testkit.processes import run_python

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.conf import settings as s; print(repr(s.METRICS_TOKEN), s.METRICS_ALLOWED_NETWORKS)"
    )
    production = run_python(code, SECRET_KEY="x" * 50)
    development = run_python(code, DEBUG="1")
    assert production.returncode == 0 and development.returncode == 0, production.stderr + development.stderr
    assert production.stdout.strip() == "'' []"
    assert development.stdout.strip() == "'' ['127.0.0.0/8', '::1/128']"


# --- /metrics: what it says ----------------------------------------------------------------------------


def _checkout(client, product, customer):
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code == 302
    response = client.post(reverse("orders:order_create"), customer)
    assert thank_you_order(response), response.content[:500]


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_metrics_after_orders_count_them_their_emails_and_the_latency(
    client, make_product, customer, worker_outbox, metrics_open
):
    before = scrape(client, **metrics_open)
    mug = make_product(name="Blue mug", price=Decimal("7.00"), stock=50)

    _checkout(client, mug, customer)
    _checkout(client, mug, {**customer, "email": "grace@example.com"})
    wait_for(
        lambda: OrderEmail.objects.filter(kind="confirmation", state="sent").count() == 2,
        timeout=20,
        what="both confirmations sent by the worker",
    )
    latency, tasks = "myshop_order_email_latency_seconds", "myshop_worker_tasks"
    sent = {"task": "orders.tasks.order_created", "outcome": "success"}

    def worker_observations():  # recorded just after each task returns, a moment after "sent" is committed
        found = scrape(client, **metrics_open)
        if (
            grown(before, found, latency, "_count", kind="confirmation") >= 2
            and grown(before, found, tasks, "_total", **sent) >= 2
        ):
            return found
        return None

    after = wait_for(worker_observations, timeout=10, what="the worker's observations in the metrics")

    assert sample(after, "myshop_orders_placed", "_total") - sample(before, "myshop_orders_placed", "_total") == 2
    assert sample(after, "myshop_order_emails", kind="confirmation", state="sent") == 2
    assert sample(after, "myshop_order_emails", kind="confirmation", state="pending") == 0
    assert sample(after, "myshop_order_emails", kind="shipping", state="pending") == 0  # none owed
    assert grown(before, after, latency, "_count", kind="confirmation") == 2
    assert sample(after, latency, "_bucket", kind="confirmation", le="+Inf") >= 2
    assert grown(before, after, tasks, "_total", **sent) == 2


@pytest.fixture
def broker_down(monkeypatch):
    """The shop's publishes go to a port where nothing listens (the real shared broker is untouched)."""
    from myshop.celery import app

    def fresh_pools():
        app._pool = None
        app.amqp._producer_pool = None

    monkeypatch.setattr(app.conf, "broker_url", CLOSED_BROKER)
    fresh_pools()
    yield
    monkeypatch.undo()
    fresh_pools()


@pytest.mark.django_db(transaction=True)
def test_metrics_count_a_failed_publish_and_no_rolled_back_order(
    client, make_product, customer, metrics_open, broker_down
):
    from django.db import transaction

    before = scrape(client, **metrics_open)
    pen = make_product(stock=50)

    _checkout(client, pen, customer)  # the broker is down: the order is placed, its hand-over fails
    with pytest.raises(RuntimeError), patch("celery.app.task.Task.apply_async"):
        with transaction.atomic():
            place_order(customer=customer, quantities={pen.id: 1})
            raise RuntimeError("the request failed after placing the order")
    after = scrape(client, **metrics_open)

    failed = "myshop_email_publish_failures"
    assert (
        sample(after, failed, "_total", kind="confirmation") - sample(before, failed, "_total", kind="confirmation")
        == 1
    )
    assert sample(after, "myshop_orders_placed", "_total") - sample(before, "myshop_orders_placed", "_total") == 1
    assert sample(after, "myshop_order_emails", kind="confirmation", state="pending") == 1
