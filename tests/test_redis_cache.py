"""The production cache backend (myshop/cache.py): Django's Redis cache with one redis.Redis client per
connection pool, shared by every command and every thread of a process."""

import os
import uuid

import pytest

from myshop.cache import RedisCache
from tests.test_security import redis_cache_or_skip


@pytest.fixture
def redis_cache():
    location = redis_cache_or_skip()["default"]["LOCATION"]
    cache = RedisCache(location, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield cache
    cache.delete_many(["value"])


def test_every_command_uses_the_same_client(redis_cache):
    client = redis_cache._cache.get_client()
    redis_cache.set("value", {"cart": {1: 2}}, 60)
    assert redis_cache.get("value") == {"cart": {1: 2}}
    assert redis_cache._cache.get_client(write=True) is client


def test_the_shared_client_holds_no_connection_of_its_own(redis_cache):
    """What makes one client safe to share: every command takes a connection from the pool (which resets
    itself in a forked process) and gives it back; the client keeps none."""
    redis_cache.set("value", 1, 60)
    client = redis_cache._cache.get_client()
    assert client.connection is None
    assert client.connection_pool.pid == os.getpid()


def test_the_suite_clears_a_redis_database_of_its_own_never_the_shops(settings):
    """Tests empty their Redis database after them (Django's clear() is FLUSHDB, whatever the key prefix):
    it must be one of the suite's own, never database 0, where a developer's shop keeps its sessions."""
    import redis
    from django.core.cache import caches

    shop = redis.Redis(host="127.0.0.1", port=6379, db=0)
    key = f"myshop-not-a-test-key-{uuid.uuid4().hex}"
    settings.CACHES = redis_cache_or_skip()
    shop.set(key, "kept", ex=60)
    try:
        caches["default"].clear()
        assert shop.get(key) == b"kept"
    finally:
        shop.delete(key)
