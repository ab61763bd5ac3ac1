"""Sessions in the shared cache (the default with Redis): Django's cache store, with two round trips fewer.

- A new session: Django asks Redis whether a random key is taken, then adds it only if absent. The add (SET
  NX) alone says whether it was taken, so the question is left out; a taken key is drawn again, as before.
- Saving a session: Django reads it back to check it was not deleted meanwhile (a logout elsewhere: then
  UpdateError, "session interrupted"), then writes it. One SET ... XX does both, and with no gap between them.

Every page that changes the session (the cart, the checkout's keys, the order) made three or four commands;
now one or two. With a cache that cannot set-if-present (a test's local memory), Django's own way is used.
"""

from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.utils.crypto import get_random_string


class SessionStore(cache.SessionStore):
    def _get_new_session_key(self):
        return get_random_string(32, VALID_KEY_CHARS)  # unique by create()'s add, not by a lookup before it

    def save(self, must_create=False):
        if self.session_key is None or must_create or not hasattr(self._cache, "set_if_present"):
            return super().save(must_create)
        if not self._cache.set_if_present(self.cache_key, self._get_session(no_load=False), self.get_expiry_age()):
            raise UpdateError
