"""Django's Redis cache, with one redis.Redis client per connection pool instead of one per command.

Django's RedisCacheClient.get_client builds a new redis.Redis object for every cache command; redis-py's
constructor fills a table of some 380 response callbacks each time. A shopper's order makes about 15 cache
commands (sessions, abuse counters), so that was about 4 % of the web tier's CPU. A redis.Redis client
is safe to share between threads (each command takes a connection from the pool), and the pool notices a
fork, so one per pool is enough.
"""

from django.core.cache.backends import redis as django_redis


class ReusingRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def set_if_present(self, key, value, timeout):
        if timeout == 0:  # as set(): already expired
            return bool(self.get_client(key, write=True).delete(key))
        value = self._serializer.dumps(value)
        return bool(self.get_client(key, write=True).set(key, value, ex=timeout, xx=True))

    def replace_key(self, old_key, new_key, value, timeout):
        client = self.get_client(new_key, write=True)
        # One round trip, and all or nothing (MULTI/EXEC): a SET that Redis refuses (out of memory) must not
        # leave the DEL to drop the session.
        pipeline = client.pipeline(transaction=True)
        pipeline.set(new_key, self._serializer.dumps(value), ex=timeout, nx=True)
        pipeline.delete(old_key)
        created, _ = pipeline.execute()
        return bool(created)


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def set_if_present(self, key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        """Set `key` only if it is there (one SET ... XX); whether it was."""
        key = self.make_and_validate_key(key, version=version)
        return self._cache.set_if_present(key, value, self.get_backend_timeout(timeout))

    def replace_key(self, old_key, new_key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        """Store `value` at `new_key` if it is free (SET NX) and delete `old_key`, in one round trip; whether
        `new_key` was free (`old_key` is deleted either way)."""
        return self._cache.replace_key(
            self.make_and_validate_key(old_key, version=version),
            self.make_and_validate_key(new_key, version=version),
            value,
            self.get_backend_timeout(timeout),
        )
