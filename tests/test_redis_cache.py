"""The production cache backend (myshop/cache.py): Django's Redis cache with one redis.Redis client per
connection pool, shared by every command and every thread of a process."""

import threading
import uuid

import pytest

from myshop.cache import RedisCache
from tests.test_security import redis_cache_or_skip


@pytest.fixture
def redis_cache():
    location = redis_cache_or_skip()["default"]["LOCATION"]
    cache = RedisCache(location, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield cache
    cache.delete_many(["counter", "value"])


def test_every_command_uses_the_same_client(redis_cache):
    client = redis_cache._cache.get_client()
    redis_cache.set("value", {"cart": {1: 2}}, 60)
    assert redis_cache.get("value") == {"cart": {1: 2}}
    assert redis_cache._cache.get_client(write=True) is client


def test_threads_sharing_the_client_lose_no_increment(redis_cache):
    redis_cache.set("counter", 0, 60)
    start = threading.Barrier(8)

    def count():
        start.wait(timeout=10)
        for _ in range(200):
            redis_cache.incr("counter")

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert redis_cache.get("counter") == 1600
