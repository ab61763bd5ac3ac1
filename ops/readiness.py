"""Readiness checks: can this process reach what a sale needs (database, broker, cache and sessions)?

A check runs in a thread of its own and is given READYZ_TIMEOUT_SECONDS; one that has not answered by then
counts as failed, and while it still hangs no second copy of it is started (a probe every few seconds
against a hung database must not pile up threads and connections). An answer is kept for
READYZ_CACHE_SECONDS: a burst of probes logs in to the broker once.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

logger = logging.getLogger(__name__)
_in_flight = {}
_in_flight_lock = threading.Lock()
_last = None  # (time.monotonic(), ready, results) of the latest answer
_last_lock = threading.Lock()


def check_database():
    """The default database answers a query (its own connection, closed after)."""
    connection = connections.create_connection("default")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()
    return {}


def check_broker(timeout):
    """At least one node of CELERY_BROKER_URL accepts an AMQP login; says how each node answered."""
    nodes = {}
    deadline = time.monotonic() + timeout
    for url in [url.strip() for url in settings.CELERY_BROKER_URL.split(";") if url.strip()]:
        shown = maybe_sanitize_url(url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            nodes[shown] = "not tried (out of time)"
            continue
        try:
            with Connection(url, connect_timeout=remaining) as connection:
                connection.ensure_connection(max_retries=0)  # one attempt per node, no sleeping
        except Exception as error:
            nodes[shown] = f"{type(error).__name__}: {error}"[:200]
        else:
            nodes[shown] = "ok"
    if "ok" not in nodes.values():
        raise ConnectionError(
            "no broker node answered: " + "; ".join(f"{node} {answer}" for node, answer in nodes.items())
        )
    return {"nodes": nodes}


def check_cache():
    """The default cache answers a read: it holds the sessions (with Redis) and the abuse counters."""
    caches["default"].get("readyz:probe")
    return {}


CHECKS = {
    "database": lambda timeout: check_database(),
    "broker": check_broker,
    "cache": lambda timeout: check_cache(),
}


def _start(name, check, timeout):
    """Start `check` in a thread; (thread, outcome dict it fills), or (None, refusal) if one still hangs."""
    with _in_flight_lock:
        running = _in_flight.get(name)
        if running is not None and running.is_alive():
            return None, {"ok": False, "error": "the previous check has not answered yet"}
        outcome = {}

        def target():
            started = time.monotonic()
            try:
                outcome.update(check(timeout) or {})
                outcome["ok"] = True
            except Exception as error:
                outcome.update(ok=False, error=f"{type(error).__name__}: {error}"[:500])
            outcome["seconds"] = round(time.monotonic() - started, 3)

        thread = threading.Thread(target=target, name=f"readyz-{name}", daemon=True)
        _in_flight[name] = thread
        thread.start()
        return thread, outcome


def readiness():
    """(ready, {check name: outcome}): ready unless a check named in READYZ_REQUIRE failed.

    The checks run side by side, so the answer takes at most about READYZ_TIMEOUT_SECONDS. Callers within
    READYZ_CACHE_SECONDS of an answer get that answer; callers at the same moment wait for one run.
    """
    global _last
    with _last_lock:
        if _last is not None and time.monotonic() - _last[0] < settings.READYZ_CACHE_SECONDS:
            return _last[1], _last[2]
        ready, results = _run_checks()
        _last = (time.monotonic(), ready, results)
        return ready, results


def forget():
    """Drop the kept answer: the next call runs the checks."""
    global _last
    with _last_lock:
        _last = None


def _run_checks():
    timeout = settings.READYZ_TIMEOUT_SECONDS
    started = {name: _start(name, check, timeout) for name, check in CHECKS.items()}
    deadline = time.monotonic() + timeout
    results = {}
    for name, (thread, outcome) in started.items():
        if thread is None:
            results[name] = outcome
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        results[name] = (
            {"ok": False, "error": f"no answer within {timeout:g} s"} if thread.is_alive() else dict(outcome)
        )
    ready = all(results[name]["ok"] for name in settings.READYZ_REQUIRE if name in results)
    failed = [f"{name}: {outcome.get('error')}" for name, outcome in results.items() if not outcome["ok"]]
    if failed:
        logger.warning("readyz: %s", "; ".join(failed))
    return ready, results
