"""Guessing codes is rate-limited: refused codes per client in a window (RATE_LIMIT_COUPON, "10/900")."""

import math

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import ngettext

from core.ratelimit import client_address, count_hit, parse_rate


def _key_and_rate(request):
    rate = parse_rate(settings.RATE_LIMIT_COUPON)
    address = client_address(request) if rate else None
    return (None, None) if address is None else (f"ratelimit:coupon:{address}", rate)


def guessing_refusal(request):
    """Count this code against the client before it is looked up; the message if that passes its limit ("Too
    many codes tried; …"), else "". Counted first, so that guesses sent at once cannot all pass one reading
    of the count; a code that applies is not counted (not_refused)."""
    key, rate = _key_and_rate(request)
    if key is None:
        return ""
    allowed, seconds = rate
    try:
        tried = count_hit(key, seconds)
    except Exception:  # a cache outage must not take the cart down with it
        return ""
    if tried <= allowed:
        return ""
    minutes = math.ceil(seconds / 60)
    return ngettext(
        "Too many codes tried; try again in %(minutes)s minute.",
        "Too many codes tried; try again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}


def not_refused(request):
    """Take back the count of a code that applied: only refused codes count against the client."""
    key, _ = _key_and_rate(request)
    if key is not None:
        try:
            cache.decr(key)
        except Exception:  # the window ended meanwhile (ValueError), or the cache is down: nothing to take back
            pass
