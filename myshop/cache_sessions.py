"""Sessions in the shared cache (the default with Redis): Django's cache store, with two round trips fewer.

- A new session: Django asks Redis whether a random key is taken, then adds it only if absent. The add (SET
  NX) alone says whether it was taken, so the question is left out; a taken key is drawn again, as before.
- Saving a session: Django reads it back to check it was not deleted meanwhile (a logout elsewhere: then
  UpdateError, "session interrupted"), then writes it. One SET ... XX does both, and with no gap between them.
- A new key for a session (after an order, at login): Django stores the data under a new key at once, deletes
  the old key, and stores the data again when the response is made. Here the new key is drawn when the session
  is saved, and stored (SET NX) with the old key's deletion in one round trip; until then the old key still
  holds the session, as it did in Django's way until its delete.

Every page that changes the session (the cart, the checkout's keys, the order) made three or four commands;
now one or two. With a cache that cannot set-if-present (a test's local memory), Django's own way is used.
"""

from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.utils.crypto import get_random_string


class SessionStore(cache.SessionStore):
    _replaced_key = None  # the key this session had before cycle_key, deleted when it is saved under a new one

    def _get_new_session_key(self):
        return get_random_string(32, VALID_KEY_CHARS)  # unique by create()'s add, not by a lookup before it

    def cycle_key(self):
        data = self._session
        if self.session_key is not None:
            old_key = self.session_key
        else:  # cycled again before a save: the key to delete is still the first one
            old_key = self._replaced_key
        if not data or old_key is None or not hasattr(self._cache, "replace_key"):
            self._delete_replaced_key()
            return super().cycle_key()
        self._session_key, self._session_cache, self._replaced_key = None, data, old_key
        self.modified = True

    def delete(self, session_key=None):
        if session_key is None:  # this session's own (flush, logout): its key from before a cycle goes too
            self._delete_replaced_key()
        super().delete(session_key)

    def _delete_replaced_key(self):
        if self._replaced_key is not None:
            self._cache.delete(self.cache_key_prefix + self._replaced_key)
            self._replaced_key = None

    def save(self, must_create=False):
        if self._replaced_key is not None and self.session_key is None:
            return self._save_under_a_new_key()
        if self.session_key is None or must_create or not hasattr(self._cache, "set_if_present"):
            return super().save(must_create)
        if not self._cache.set_if_present(self.cache_key, self._get_session(no_load=False), self.get_expiry_age()):
            raise UpdateError

    def _save_under_a_new_key(self):
        old_cache_key = self.cache_key_prefix + self._replaced_key
        for _ in range(10000):  # as Django's create(): a taken key is drawn again
            self._session_key = self._get_new_session_key()
            if self._cache.replace_key(old_cache_key, self.cache_key, self._session_cache, self.get_expiry_age()):
                self._replaced_key = None
                return
        raise RuntimeError("Unable to create a new session key. It is likely that the cache is unavailable.")
