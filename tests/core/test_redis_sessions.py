"""Sessions in Redis (core/redis_sessions.py): Django's cache store's behaviour, in fewer commands."""

from unittest.mock import patch

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from core import redis_sessions
from orders.tasks import order_created
from testkit.caches import redis_cache_or_skip


@pytest.fixture
def redis_commands(settings):
    """The Redis commands the session store sends, by name, while the test runs."""
    settings.CACHES = redis_cache_or_skip()
    settings.SESSION_ENGINE = "core.redis_sessions"
    commands = []
    client = caches["default"].client.get_client(write=True)
    real = client.execute_command

    def counting(*args, **options):
        commands.append(args[0])
        return real(*args, **options)

    with patch.object(client, "execute_command", counting):
        yield commands
    caches["default"].clear()


def test_a_new_session_is_one_command_and_an_update_is_one_more_after_the_load(redis_commands):
    session = redis_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    assert redis_commands == ["SET"]  # SET ... NX: no EXISTS before it
    redis_commands.clear()
    again = redis_sessions.SessionStore(session.session_key)
    again["cart"] = {"1": {"quantity": 3}}
    again.save()
    assert redis_commands == ["GET", "SET"]  # the load, then SET ... XX: no second GET
    assert redis_sessions.SessionStore(session.session_key)["cart"] == {"1": {"quantity": 3}}


def test_saving_a_session_deleted_meanwhile_is_an_interrupted_session_as_in_django(redis_commands):
    session = redis_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    stale = redis_sessions.SessionStore(session.session_key)
    assert stale["cart"] == {"1": {"quantity": 2}}  # read by one request...
    session.delete()  # ...while another deletes it (a logout in another tab)
    stale["cart"] = {}
    with pytest.raises(UpdateError):
        stale.save()
    assert not redis_sessions.SessionStore().exists(session.session_key)  # nothing was written back


def test_a_drawn_key_that_is_taken_is_drawn_again_and_the_other_session_is_untouched(redis_commands):
    taken = redis_sessions.SessionStore()
    taken["mine"] = True
    taken.save()
    keys = iter([taken.session_key, "b" * 32])
    with patch.object(redis_sessions, "get_random_string", lambda *args: next(keys)):
        new = redis_sessions.SessionStore()
        new["theirs"] = True
        new.save()
    assert new.session_key == "b" * 32
    assert dict(redis_sessions.SessionStore(taken.session_key).load()) == {"mine": True}


def test_a_new_key_takes_effect_at_once_when_the_session_is_cycled(redis_commands):
    """cycle_key is Django's: the old key no longer holds the session as soon as it is cycled, not when the
    response is saved (someone holding the old cookie must not see what follows, such as an order)."""
    session = redis_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    old_key = session.session_key
    session.cycle_key()
    assert session.session_key != old_key and not redis_sessions.SessionStore().exists(old_key)
    assert redis_sessions.SessionStore(session.session_key)["cart"] == {"1": {"quantity": 2}}


def test_a_cycled_session_unchanged_since_is_not_written_again(redis_commands):
    """cycle_key stores the session under its new key; the save at the response, with nothing changed since,
    sends nothing (checkout cycles the key: one command fewer per order)."""
    session = redis_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    session.cycle_key()
    redis_commands.clear()
    session.save()
    assert redis_commands == []
    assert session.modified  # the middleware still sends the new cookie


def test_a_cycled_session_changed_since_is_written_even_in_place(redis_commands):
    session = redis_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    session.cycle_key()
    session["cart"]["1"]["quantity"] = 5  # changed in place, as the cart does, then marked
    session.modified = True
    redis_commands.clear()
    session.save()
    assert redis_commands == ["SET"]
    assert redis_sessions.SessionStore(session.session_key)["cart"] == {"1": {"quantity": 5}}


@pytest.mark.django_db
def test_a_shopper_keeps_the_cart_across_requests(redis_commands, make_product):
    product = make_product(stock=10)
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    assert "3 items" in client.get(reverse("cart:cart_detail")).content.decode()


@pytest.mark.django_db
def test_a_checkout_loads_the_session_once_and_stores_it_once_under_its_new_key(
    redis_commands, make_product, customer, django_capture_on_commit_callbacks
):
    client = Client()
    client.post(reverse("cart:cart_add", args=[make_product(stock=10).id]), {"quantity": 1})
    client.get(reverse("orders:order_create"))
    redis_commands.clear()
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("orders:order_create"), customer).status_code == 200
    # The load; the old key remembered with the order (a double click's second request finds it); the
    # session under its new key; the old key deleted. Not a second write at the response.
    assert redis_commands == ["GET", "SET", "SET", "DEL"]
