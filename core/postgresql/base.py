"""Django's PostgreSQL backend, whose check of a reused connection polls its socket instead of sending
`SELECT 1`: one round trip fewer per request and per task (docs/decisions/postgresql-health-check.md); and
which replaces a connection whose prepared statements a migration made stale (docs/decisions/prepared-statements.md)."""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

# Where `SELECT 1` would have answered: outside a transaction, or inside one still going.
USABLE = (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status not in USABLE:  # a failed transaction, or a lost connection
            return False
        poll = select.poll()  # poll, not select: a descriptor above 1024 is fine
        poll.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        try:
            return not poll.poll(0)
        except OSError:
            return False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stale_plans = False
        self.execute_wrappers.append(_note_stale_plans)  # first in the list: for the life of the wrapper

    def close_if_unusable_or_obsolete(self):
        # Django calls this as each request and task ends. A prepared plan that a migration has made stale
        # fails on every run until deallocated, and psycopg forgets its own list only after its connection's
        # ALTER, DROP or ROLLBACK: a new connection prepares afresh.
        if self.stale_plans:
            self.stale_plans = False
            self.close()
        super().close_if_unusable_or_obsolete()


STALE = (psycopg.errors.FeatureNotSupported, psycopg.errors.InvalidSqlStatementName)


def _note_stale_plans(execute, sql, params, many, context):
    """Mark the connection for replacement when a prepared statement failed as stale ("cached plan must not
    change result type") or gone ("prepared statement … does not exist")."""
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        if isinstance(error.__cause__, STALE):
            context["connection"].stale_plans = True
        raise
