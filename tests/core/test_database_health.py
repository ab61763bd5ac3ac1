"""The health check of a reused PostgreSQL connection (core/postgresql): no round trip, and a connection
the server ended is still found unusable and replaced."""

import time
from unittest.mock import patch

import psycopg
import pytest
from django.db import NotSupportedError, ProgrammingError, connection, connections

from testkit.waiting import wait_until

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]  # SQLite has no connection


def test_checking_a_live_connection_sends_nothing_to_the_server():
    connection.ensure_connection()
    with patch.object(type(connection.connection), "cursor", side_effect=AssertionError("a round trip")):
        assert connection.is_usable()


def test_a_connection_the_server_ended_is_found_unusable_and_replaced():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    wait_until(lambda: not connection.is_usable(), timeout=10, what="the ended connection seen as unusable")
    connection.health_check_done = False
    connection.close_if_health_check_failed()  # what Django does at a request's first query
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_a_connection_in_a_failed_transaction_is_unusable_as_with_select_1():
    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = False
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            raw.execute("SELECT 1 / 0")
        assert not connection.is_usable()
    finally:
        raw.rollback()
        raw.autocommit = True
    assert connection.is_usable()


def test_a_descriptor_above_1024_is_checked_too():
    """select() cannot watch descriptors from 1024 on (many open files, gthread workers); the check polls."""
    import os
    import resource

    connection.ensure_connection()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1500:  # raised up to the hard limit, which any process may do
        if hard != resource.RLIM_INFINITY and hard <= 1500:
            pytest.fail(f"the hard open-file limit ({hard}) leaves no room for a descriptor at 1500")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    raw = connection.connection
    with patch.object(type(raw), "fileno", lambda self: 1500):
        os.dup2(raw.pgconn.socket, 1500)
        try:
            assert connection.is_usable()
        finally:
            os.close(1500)


PROBE = "SELECT id, name FROM prepared_probe WHERE id = %s"


@pytest.fixture
def probe_table():
    """A table of one row, and another connection to change it with, as a migration in another process would."""
    other = connections.create_connection("default")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (id integer, name varchar(10))")
        cursor.execute("INSERT INTO prepared_probe VALUES (1, 'tea')")
    yield other
    with other.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS prepared_probe")
    other.close()


def run(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fail_a_request(error, sql):
    """A request whose statement fails, ended as Django ends each request and task; the connection is kept (as
    with CONN_MAX_AGE=60 in production)."""
    with pytest.raises(error):
        run(sql)
    connection.close_at = time.monotonic() + 60
    connection.close_if_unusable_or_obsolete()


def make_the_probe_stale(other):
    """Prepare the probe query (run five times, myshop/settings.py), then change a column it returns from the other
    connection: PostgreSQL refuses the prepared plan. Returns the connection's backend."""
    for _ in range(6):
        assert run(PROBE, [1]) == [(1, "tea")]
    assert run("SELECT count(*) FROM pg_prepared_statements")[0][0] >= 1  # prepared, as the settings ask
    connection.close_at = time.monotonic() + 60  # kept, as with CONN_MAX_AGE=60 in production
    backend = connection.connection.info.backend_pid
    with other.cursor() as cursor:
        cursor.execute("ALTER TABLE prepared_probe ALTER COLUMN name TYPE varchar(20)")
    with pytest.raises(NotSupportedError, match="cached plan must not change result type"):
        run(PROBE, [1])
    return backend


def the_probe_runs_after_the_request(backend):
    connection.close_if_unusable_or_obsolete()  # the end of the request
    assert run(PROBE, [1]) == [(1, "tea")]
    assert connection.connection.info.backend_pid != backend  # a new connection: it prepares afresh


def test_a_query_prepared_before_a_migration_changed_its_columns_works_again_after_one_failure(probe_table):
    """A migration that changes a column's type makes PostgreSQL refuse a prepared plan ("cached plan must not
    change result type"). The failing request ends, as every request does, with close_if_unusable_or_obsolete():
    after it, the query runs again."""
    the_probe_runs_after_the_request(make_the_probe_stale(probe_table))


def test_a_stale_prepared_query_works_again_on_a_connection_that_had_failed_once_before(probe_table):
    """A kept connection meets a failed statement long before any query is prepared (here: a missing table).
    Later a migration makes a prepared plan stale: after the failing request, the query runs again, as on a
    connection with no past."""
    connection.close()  # a new process's connection
    fail_a_request(ProgrammingError, "SELECT * FROM no_such_table")
    the_probe_runs_after_the_request(make_the_probe_stale(probe_table))


def test_a_stale_prepared_query_works_again_after_a_request_that_also_saved_its_session(probe_table):
    """The request that meets the stale plan goes on to commit a transaction before it ends: its session saved in
    the database (core.sessions, the store without a shared cache), as a cart or checkout request does. Django's
    commit clears errors_occurred; the query must still run again after that request."""
    from core.sessions import SessionStore

    backend = make_the_probe_stale(probe_table)
    session = SessionStore()
    session["cart"] = {"1": 1}
    session.save()  # SessionMiddleware, as the response goes out
    the_probe_runs_after_the_request(backend)


def test_a_connections_prepared_queries_keep_working_after_two_failed_requests():
    """No migration at all: a kept connection's first request fails (any error but a data or integrity one,
    here a missing table), later ones prepare what they repeat, and another request fails. The queries the
    connection had prepared still run after it, on the same connection."""
    connection.close()  # a new process's connection
    fail_a_request(ProgrammingError, "SELECT * FROM no_such_table")
    for _ in range(6):
        assert run("SELECT %s::int + 1", [1]) == [(2,)]
    backend = connection.connection.info.backend_pid
    fail_a_request(ProgrammingError, "SELECT * FROM no_such_table")
    assert run("SELECT %s::int + 1", [1]) == [(2,)]
    assert connection.connection.info.backend_pid == backend
