"""Django's PostgreSQL backend, whose check of a reused connection polls its socket instead of sending
`SELECT 1`: one round trip fewer per request and per task (docs/decisions/postgresql-health-check.md); and
which forgets its prepared statements after a failed one (docs/decisions/prepared-statements.md)."""

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

    def close_if_unusable_or_obsolete(self):
        # Django calls this as each request and task ends. A statement that failed may be a prepared one that a
        # migration has made stale ("cached plan must not change result type"), which fails on every run until
        # it is deallocated: forget them all, and the connection prepares again what it repeats.
        connection = self.connection
        if (
            connection is not None
            and self.errors_occurred
            and connection.info.transaction_status == pq.TransactionStatus.IDLE
        ):
            try:
                connection.execute("DEALLOCATE ALL")
            except psycopg.Error:
                pass  # then the check below finds the connection unusable
        super().close_if_unusable_or_obsolete()
