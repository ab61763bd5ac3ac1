"""Sessions in Redis: Django's cache store, in fewer round trips where django-redis allows it.

- A new key is taken by SET NX alone, which refuses a key in use; Django asks EXISTS first.
- An update is one SET XX, stored only if the session is still there (not logged out meanwhile); Django reads
  it back first, then writes it.

- A session just stored under a new key (cycle_key) is not stored again at the response unless it changed.

cycle_key is Django's: the new key is stored and the old one deleted at once. Five Redis commands fewer per
order, worth about 3 % of orders/s (docs/decisions/redis-sessions.md).
"""

import pickle

from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.utils.crypto import get_random_string
from django_redis.cache import RedisCache

from .sessions import could_be_issued


class SessionStore(cache.SessionStore):
    def _validate_session_key(self, key):
        return could_be_issued(key)

    def _get_new_session_key(self):
        return get_random_string(32, VALID_KEY_CHARS)  # create() adds it with SET NX, which refuses one in use

    def create(self):
        super().create()
        self._created = self._snapshot()

    def _snapshot(self):
        return pickle.dumps(self._get_session(no_load=True), pickle.HIGHEST_PROTOCOL)  # nested changes too

    def save(self, must_create=False):
        if self.session_key is None or must_create or not isinstance(self._cache, RedisCache):
            return super().save(must_create)
        if getattr(self, "_created", None) is not None and self._created == self._snapshot():
            return  # stored by create() in this request, unchanged since
        if not self._cache.set(self.cache_key, self._get_session(no_load=False), self.get_expiry_age(), xx=True):
            raise UpdateError
