"""Waiting for a condition, with a timeout, instead of sleeping."""

import time


def wait_until(condition, *, timeout, interval=0.05, what="condition"):
    """Poll `condition` until it returns something truthy, and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def holds_for(condition, seconds, interval=0.1):
    """True if `condition` stays truthy for `seconds` (an absence can only be watched for a while)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(interval)
    return True


def wait_for(condition, *, timeout=15.0, what="condition"):
    """`wait_until` with the tests' usual timeout: TimeoutError, which fails the test, after `timeout` s."""
    return wait_until(condition, timeout=timeout, what=what)
