"""Sessions in the database (the default without a shared cache): Django's store, with one difference.

Django's database store turns any database error while updating a session into UpdateError, which its
middleware answers as "session interrupted": a 400 and a logged traceback, as if the shopper had logged out
in another tab. When the error is the database being unreachable (a restart, a dropped connection), it is an
outage: the original error is raised instead, and the site answers it with the 503 page
(core.views.server_error).
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError

from .views import DATABASE_ERRORS


def could_be_issued(key):
    """True if `key` looks like one Django issues (lower-case letters and digits): any other cookie is a new
    visitor, never looked up (PostgreSQL refuses a NUL byte in a query, a 500 otherwise)."""
    return bool(key) and 8 <= len(key) <= 40 and all(char in VALID_KEY_CHARS for char in key)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key):
        return could_be_issued(key)

    def save(self, must_create=False):
        try:
            super().save(must_create)
        except UpdateError as error:
            cause = error.__context__
            if isinstance(cause, DATABASE_ERRORS):
                raise cause from cause.__cause__  # the driver's own error stays attached
            raise
