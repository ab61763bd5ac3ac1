"""Sessions in the database (the default without a shared cache): Django's store, with one difference.

Django's database store turns any database error while updating a session into UpdateError, which its
middleware answers as "session interrupted": a 400 and a logged traceback, as if the shopper had logged out
in another tab. When the error is the database being unreachable (a restart, a dropped connection), it is an
outage: the original error is raised instead, and the site answers it with the 503 page
(core.views.server_error).
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError

from .views import DATABASE_ERRORS


class SessionStore(db.SessionStore):
    def save(self, must_create=False):
        try:
            super().save(must_create)
        except UpdateError as error:
            cause = error.__context__
            if isinstance(cause, DATABASE_ERRORS):
                raise cause from cause.__cause__  # the driver's own error stays attached
            raise
