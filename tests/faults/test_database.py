"""The database unreachable: in the web tier, a friendly 503 with Retry-After and one log line per request,
never a 500 with a traceback; and a real PostgreSQL restart (about a second) while shoppers use the shop.

For the restart, the shop (web server and a Celery worker with beat, production settings, persistent database
connections) runs against a PostgreSQL and a RabbitMQ node of this test's own; a few shopper threads browse,
fill carts and check out throughout. The scenario runs once per module; each of its tests asserts one side
of it.
"""

import contextlib
import os
import threading
import time
import urllib.error
import uuid
from unittest.mock import patch

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from testkit import postgres as pgnode
from testkit.pages import assert_friendly_503
from testkit.processes import manage, shop_environment, start_web, start_worker
from testkit.shopper import Shopper
from testkit.smtp import SmtpSink
from testkit.waiting import wait_until

# --- The web tier while the database is unreachable -------------------------------------------------------


@pytest.fixture
def shopper(make_product):
    """A client with a product in its cart, so its requests load (and may save) a session."""
    client = Client(raise_request_exception=False)
    product = make_product()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    client.product = product
    return client


def database_down(error=OperationalError):
    return patch.object(
        CursorWrapper,
        "execute",
        side_effect=error("connection to server at 127.0.0.1, port 5432 failed: Connection refused"),
    )


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_pages_answer_503_while_the_database_is_unreachable(shopper, caplog, error):
    with database_down(error):
        response = shopper.get(reverse("shop:product_list"))
    assert_friendly_503(response, caplog)


@pytest.mark.parametrize("url_name", ["cart:cart_add", "cart:cart_update", "cart:cart_remove"])
def test_cart_changes_answer_503_while_the_database_is_unreachable(shopper, caplog, url_name):
    with database_down():
        response = shopper.post(reverse(url_name, args=[shopper.product.id]), {"quantity": 2})
    assert_friendly_503(response, caplog)


def test_checkout_answers_503_while_the_database_is_unreachable(shopper, caplog, customer):
    with database_down():
        response = shopper.post(reverse("orders:order_create"), customer)
    assert_friendly_503(response, caplog)


def test_a_session_that_cannot_be_saved_answers_503(shopper, caplog):
    """The view worked, then the database went away before the session was written."""
    from django.contrib.sessions.backends.db import SessionStore

    with patch.object(SessionStore, "save", side_effect=OperationalError("server closed the connection")):
        response = shopper.post(reverse("cart:cart_add", args=[shopper.product.id]), {"quantity": 1})
    assert_friendly_503(response, caplog)


def test_the_shop_answers_again_once_the_database_is_back(shopper):
    with database_down():
        assert shopper.get(reverse("shop:product_list")).status_code == 503
    assert shopper.get(reverse("shop:product_list")).status_code == 200
    assert shopper.get(reverse("cart:cart_detail")).context["cart"].quantities() == {shopper.product.id: 1}


def test_connections_are_checked_before_reuse():
    from django.conf import settings

    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_a_session_update_failing_for_want_of_the_database_answers_503_not_400(shopper, caplog):
    """The database drops the connection just as an existing session (a cart) is saved: Django's database
    session store turns any database error on an update into "session interrupted", a 400 with a logged
    traceback, as if the shopper had logged out elsewhere. It is an outage: the 503 page, one line."""
    from django.contrib.sessions.models import Session

    shopper.post(reverse("cart:cart_add", args=[shopper.product.id]), {"quantity": 1})  # a session saved there
    caplog.clear()
    dropped = OperationalError("terminating connection due to administrator command")
    with patch.object(Session, "save", side_effect=dropped):
        response = shopper.post(reverse("cart:cart_add", args=[shopper.product.id]), {"quantity": 1})
    assert_friendly_503(response, caplog)


# --- PostgreSQL restarting under load ------------------------------------------------------------------------

SHOPPERS = 3
CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address": "12 Analytical Street",
    "postal_code": "10115",
    "city": "Berlin",
}
CREATE_PRODUCTS = (
    "from decimal import Decimal; from shop.models import Category, Product;"
    "c = Category.objects.create(name='Mugs', slug='mugs');"
    "ids = [Product.objects.create(category=c, name=f'Mug {n}', slug=f'mug-{n}', price=Decimal('7.00'),"
    " stock=10**6).id for n in range(2)];"
    "print('PRODUCTS=' + ','.join(map(str, ids)))"
)


class RecordingShopper(Shopper):
    """A Shopper that also records every response: (seconds since start, method, path, status, headers)."""

    def __init__(self, base_url, responses, started):
        super().__init__(base_url)
        plain_open = self.opener.open

        def recording_open(request, timeout=None):
            try:
                response = plain_open(request, timeout=timeout)
            except urllib.error.HTTPError as error:
                responses.append(
                    (time.monotonic() - started, request.get_method(), request.selector, error.code, error.headers)
                )
                raise
            responses.append(
                (time.monotonic() - started, request.get_method(), request.selector, response.status, response.headers)
            )
            return response

        self.opener.open = recording_open


def shop_until(stop, base_url, products, responses, client_errors, started, number):
    shopper, n = None, 0
    while not stop.is_set():
        n += 1
        try:
            shopper = shopper or RecordingShopper(base_url, responses, started)
            shopper.request("GET", "/")
            for product in products:
                shopper.add_to_cart(product, 1)
            shopper.checkout({**CUSTOMER, "email": f"shopper{number}-{n}@example.com"})
            shopper.request("GET", "/en/orders/created/")  # the thank-you page's own address, as after a reload
        except StopIteration:  # no CSRF cookie: the page that sets it answered 503; start afresh
            shopper = None
        except (urllib.error.URLError, OSError) as error:  # no answer at all: the web server failed
            client_errors.append((time.monotonic() - started, repr(error)))
            shopper = None


@pytest.fixture(scope="module")
def restart_under_load(tmp_path_factory, rabbit_node):
    reason = pgnode.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the database restart test needs a private PostgreSQL: {reason}")
        pytest.skip(reason)

    log_dir = tmp_path_factory.mktemp("database-restart")
    postgres, sink = pgnode.PostgresNode(), SmtpSink()
    vhost = f"dbrestart-{uuid.uuid4().hex[:6]}"  # the fault tests' private node, a vhost of its own
    rabbit_node.add_vhost(vhost)
    broker = rabbit_node.url.rstrip("/") + "/" + vhost
    processes, cleanup = [], contextlib.ExitStack()
    try:
        cleanup.callback(postgres.destroy)
        postgres.start()
        sink.start()
        cleanup.callback(sink.stop)
        env = shop_environment(
            database=postgres.create_database("myshop"),
            broker=broker,
            smtp_port=sink.port,
            CONN_MAX_AGE=60,
            CELERY_BEAT_SCHEDULE_FILENAME=str(log_dir / "beat-schedule"),
            # Every shopper comes from 127.0.0.1, with many orders: the hoarding caps would refuse them.
            ORDER_MAX_PER_CLIENT_PER_DAY=0,
            ORDER_MAX_PER_EMAIL_PER_DAY=0,
        )
        manage(env, "migrate", "--noinput")
        output = manage(env, "shell", "-c", CREATE_PRODUCTS)
        products = [int(n) for n in output.split("PRODUCTS=", 1)[1].split()[0].split(",")]
        web = start_web(env, log_dir)
        processes.append(web)
        processes.append(start_worker(env, log_dir, name="restart-worker", beat=True))

        responses, client_errors, stop, started = [], [], threading.Event(), time.monotonic()
        threads = [
            threading.Thread(
                target=shop_until,
                daemon=True,
                args=(stop, web.base_url, products, responses, client_errors, started, n),
            )
            for n in range(SHOPPERS)
        ]
        for thread in threads:
            thread.start()

        def placed(since=0.0):
            return [
                r
                for r in responses
                # The checkout form answered with the thank-you page (an error is a 400 or a 503).
                if r[0] >= since and r[1] == "POST" and r[2] == "/en/orders/create/" and r[3] == 200
            ]

        wait_until(lambda: len(placed()) >= 2 * SHOPPERS, timeout=60, what="orders before the restart")
        down_at, back_at = postgres.restart(outage_seconds=1.0)
        back = back_at - started
        recovered = wait_until(lambda: placed(since=back), timeout=60, what="an order after the restart")
        time.sleep(2)  # a little more load after the recovery
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        order_ids = [row[0] for row in postgres.query("myshop", "SELECT id FROM orders_order ORDER BY id")]
        statuses = [response[3] for response in responses]
        print(
            f"restart: outage {back_at - down_at:.2f} s; {len(statuses)} requests, {statuses.count(503)} "
            f"answered 503, {statuses.count(500)} answered 500, {len(client_errors)} unanswered; orders "
            f"placed again {recovered[0][0] - back:.2f} s after the database was back; {len(order_ids)} orders"
        )
        yield {
            "responses": list(responses),
            "client_errors": client_errors,
            "outage": back_at - down_at,
            "back": back,
            "back_at": back_at,
            "recovered_at": recovered[0][0],
            "web": web,
            "sink": sink,
            "order_ids": order_ids,
            "postgres": postgres,
        }
    finally:
        for process in processes:
            process.stop()
            print(f"----- {process.name} log (tail) -----\n{process.log()[-6000:]}")
        cleanup.close()


@pytest.mark.faults
@pytest.mark.broker
@pytest.mark.any_database  # its own PostgreSQL, whatever the suite's database
def test_the_web_answers_503_with_retry_after_never_500_and_recovers_by_itself(restart_under_load):
    run = restart_under_load
    responses = run["responses"]
    statuses = {status for _, _, _, status, _ in responses}
    unavailable = [(method, path, headers) for _, method, path, status, headers in responses if status == 503]
    assert statuses <= {200, 302, 503}, sorted(statuses)
    assert run["client_errors"] == []  # every request got an answer
    assert unavailable, "no request met the restart: the test proved nothing"
    assert all(headers.get("Retry-After", "").isdigit() for _, _, headers in unavailable)
    # Recovered by itself (same web process, no restart), within seconds of the database's return.
    assert run["recovered_at"] - run["back"] < 15


@pytest.mark.faults
@pytest.mark.broker
@pytest.mark.any_database  # its own PostgreSQL, whatever the suite's database
def test_the_web_log_has_one_line_per_failed_request_and_no_traceback(restart_under_load):
    run = restart_under_load
    log = run["web"].log()
    unavailable = sum(1 for response in run["responses"] if response[3] == 503)
    assert "Traceback" not in log
    assert log.count("database unavailable:") == unavailable


@pytest.mark.faults
@pytest.mark.broker
@pytest.mark.any_database  # its own PostgreSQL, whatever the suite's database
def test_every_order_placed_around_the_restart_is_emailed_within_a_minute(restart_under_load):
    run = restart_under_load
    deadline_from_back = 60
    emailed = lambda: set(run["order_ids"]) <= set(run["sink"].order_ids())  # noqa: E731
    remaining = max(1.0, deadline_from_back - (time.monotonic() - run["back_at"]))
    try:
        wait_until(emailed, timeout=remaining, what="every order's confirmation email")
    except TimeoutError:
        missing = sorted(set(run["order_ids"]) - set(run["sink"].order_ids()))
        pytest.fail(
            f"{len(missing)} of {len(run['order_ids'])} orders not emailed a minute after the restart: {missing[:20]}"
        )

    # Once each, and the worker's own record agrees: every email sent, each within its attempts. (The record
    # follows the server's "250" by a moment.)
    def email_rows():
        query = "SELECT order_id, state, attempts FROM orders_orderemail WHERE kind = 'confirmation'"
        return run["postgres"].query("myshop", query)

    wait_until(
        lambda: all(state != "sending" for _, state, _ in email_rows()), timeout=30, what="every outcome recorded"
    )
    rows = email_rows()
    assert sorted(order_id for order_id, _, _ in rows) == sorted(run["order_ids"])
    assert {state for _, state, _ in rows} == {"sent"}
    assert all(1 <= attempts <= 6 for _, _, attempts in rows), sorted(attempts for _, _, attempts in rows)[-5:]
    received = run["sink"].order_ids()
    assert sorted(received) == sorted(set(received)), "an order emailed twice"
