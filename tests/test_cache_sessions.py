"""Sessions in Redis (myshop/cache_sessions.py): Django's cache store's behaviour, in fewer commands."""

from unittest.mock import patch

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from myshop import cache_sessions
from tests.test_security import redis_cache_or_skip


@pytest.fixture
def redis_sessions(settings):
    settings.CACHES = redis_cache_or_skip()
    settings.SESSION_ENGINE = "myshop.cache_sessions"
    commands = []
    client = caches["default"]._cache.get_client(write=True)
    real = client.execute_command

    def counting(*args, **options):
        commands.append(args[0])
        return real(*args, **options)

    with patch.object(client, "execute_command", counting):
        yield commands
    caches["default"].clear()


def _saved_then_cycled():
    """A session with a cart, saved under a key, then given a new key (not yet saved); and its old key."""
    session = cache_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    old_key = session.session_key
    session.cycle_key()
    return session, old_key


def test_a_new_session_is_one_command_and_an_update_another(redis_sessions):
    session = cache_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    assert redis_sessions == ["SET"]  # SET ... NX: no EXISTS before it
    redis_sessions.clear()
    again = cache_sessions.SessionStore(session.session_key)
    again["cart"] = {"1": {"quantity": 3}}
    again.save()
    assert redis_sessions == ["GET", "SET"]  # the load, then SET ... XX: no second GET
    assert cache_sessions.SessionStore(session.session_key)["cart"] == {"1": {"quantity": 3}}


def test_saving_a_session_deleted_meanwhile_is_an_interrupted_session_as_in_django(redis_sessions):
    session = cache_sessions.SessionStore()
    session["cart"] = {"1": {"quantity": 2}}
    session.save()
    stale = cache_sessions.SessionStore(session.session_key)
    assert stale["cart"] == {"1": {"quantity": 2}}  # read by a request...
    session.delete()  # ...while another one deletes it  # e.g. logged out in another tab
    stale["cart"] = {}
    with pytest.raises(UpdateError):
        stale.save()
    assert not cache_sessions.SessionStore().exists(session.session_key)  # and nothing was written back


def test_a_drawn_key_that_is_taken_is_drawn_again_and_the_other_session_is_untouched(redis_sessions):
    taken = cache_sessions.SessionStore()
    taken["mine"] = True
    taken.save()
    keys = iter([taken.session_key, "b" * 32])
    with patch.object(cache_sessions, "get_random_string", lambda *args: next(keys)):
        new = cache_sessions.SessionStore()
        new["theirs"] = True
        new.save()
    assert new.session_key == "b" * 32
    assert dict(cache_sessions.SessionStore(taken.session_key).load()) == {"mine": True}


@pytest.mark.django_db
def test_a_shopper_keeps_the_cart_across_requests(redis_sessions, make_product):
    product = make_product(stock=10)
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    assert "3 items" in client.get(reverse("cart:cart_detail")).content.decode()


def test_a_new_key_is_stored_with_the_old_ones_deletion_when_the_session_is_saved(redis_sessions):
    session, old_key = _saved_then_cycled()
    assert cache_sessions.SessionStore(old_key)["cart"] == {"1": {"quantity": 2}}  # until the save
    session["order"] = "placed"
    redis_sessions.clear()
    session.save()
    assert redis_sessions == []  # one pipelined round trip, no single command
    assert session.session_key not in (None, old_key)
    assert not cache_sessions.SessionStore().exists(old_key)
    assert dict(cache_sessions.SessionStore(session.session_key).load()) == {
        "cart": {"1": {"quantity": 2}},
        "order": "placed",
    }


def test_an_empty_session_gets_its_new_key_at_once_as_in_django(redis_sessions):
    session = cache_sessions.SessionStore()
    session["x"] = 1
    session.save()
    old_key = session.session_key
    del session["x"]
    session.cycle_key()
    assert session.session_key not in (None, old_key) and not cache_sessions.SessionStore().exists(old_key)


@pytest.mark.parametrize("then", ["flush", "cycle again", "delete"])
def test_the_key_from_before_a_cycle_never_outlives_the_session(redis_sessions, then):
    """A cycled session flushed (a logout) or cycled again before it is saved: the old key goes too."""
    session, old_key = _saved_then_cycled()
    if then == "flush":
        session.flush()
    elif then == "cycle again":
        session.cycle_key()
        session.save()
        assert cache_sessions.SessionStore(session.session_key)["cart"] == {"1": {"quantity": 2}}
    else:
        session.delete()
    assert not cache_sessions.SessionStore().exists(old_key)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own: the refusal below is a server-wide setting, which must not touch the
    shared Redis (the suite's other pass runs beside it)."""
    import shutil
    import subprocess

    import redis

    from testkit.processes import free_port
    from testkit.waiting import wait_until

    server = shutil.which("redis-server") or pytest.skip("no redis-server to start")
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def answers():
        try:
            return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        except redis.exceptions.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=20, what="a private redis-server")
        yield url
    finally:
        process.kill()
        process.wait()


def test_a_refused_new_key_leaves_the_old_session_whole(redis_sessions, private_redis, settings):
    """Redis refusing the new key's SET (say, out of memory) must not delete the session under the old one."""
    import redis
    from django.test import override_settings

    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": private_redis}}):
        session, old_key = _saved_then_cycled()
        session["big"] = "x" * 100
        client = caches["default"]._cache.get_client(write=True)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")  # every write refused, on this test's own server
        with pytest.raises(redis.exceptions.ResponseError):
            session.save()
        client.config_set("maxmemory", "0")
        assert cache_sessions.SessionStore(old_key)["cart"] == {"1": {"quantity": 2}}
