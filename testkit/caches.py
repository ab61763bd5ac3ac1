"""The suite's own Redis database, for tests that need the production cache (sessions, abuse counters).

Django's cache.clear() empties the whole database (FLUSHDB), so it is never the shop's (database 0 by
default). bin/test gives each of its two passes, which run at once, a database of its own (TEST_REDIS_URL).
"""

import os
import uuid

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_cache_or_skip():
    """CACHES for Redis at TEST_REDIS_URL under a key prefix of its own; skips the test when Redis does not
    answer (fails it under CI=true, where Redis is expected)."""
    import pytest
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is expected at {TEST_REDIS_URL} under CI")
        pytest.skip(f"no Redis at {TEST_REDIS_URL}")
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
