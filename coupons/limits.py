"""Guessing codes is rate-limited: refused codes per client in a window (RATE_LIMIT_COUPON, "10/900")."""

import math

from django.conf import settings
from django.core.cache import cache

from core.ratelimit import client_address, count_hit, parse_rate


def _key_and_rate(request):
    rate = parse_rate(settings.RATE_LIMIT_COUPON)
    address = client_address(request) if rate else None
    return (None, None) if address is None else (f"ratelimit:coupon:{address}", rate)


def guessing_refusal(request):
    """The message for a client past its refused codes ("Too many codes tried; …"), or "" if it may try."""
    key, rate = _key_and_rate(request)
    if key is None:
        return ""
    allowed, seconds = rate
    try:
        refused = cache.get(key, 0)
    except Exception:  # a cache outage must not take the cart down with it
        return ""
    if refused < allowed:
        return ""
    return f"Too many codes tried; try again in {math.ceil(seconds / 60)} minutes."


def count_refused(request):
    """Count one refused code against this client."""
    key, rate = _key_and_rate(request)
    if key is not None:
        try:
            count_hit(key, rate[1])
        except Exception:
            pass
