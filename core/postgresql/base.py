"""Django's PostgreSQL backend, with a health check that costs no round trip.

With CONN_HEALTH_CHECKS (settings: persistent connections that the database dropped, in a restart, are
replaced before use rather than failing a request), Django checks a reused connection by sending it
`SELECT 1` and waiting for the answer: once per request and once per worker task. That was four extra
statements for every order.

An idle connection has nothing to read. When the server ends it (a restart, a fast or immediate shutdown,
pg_terminate_backend, an idle timeout) it sends a FATAL message and closes the socket, which makes the socket
readable. So: readable, or closed, or broken means unusable, and the connection is replaced as before; one
poll of the socket, without waiting, replaces the round trip. A server that vanished without a word (a cut
cable) passes this check as it passed `SELECT 1` only after a TCP timeout: the query fails, the request gets
the 503 page, and Django drops the connection (tests/test_database_restart.py).
"""

import select

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
