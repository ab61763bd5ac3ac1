"""The database unreachable in the web tier: a friendly 503 with Retry-After and one log line per request,
never a 500 with a traceback. (The real restart under load is in tests/test_database_restart.py.)"""

from unittest.mock import patch

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from testkit.pages import assert_friendly_503


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
