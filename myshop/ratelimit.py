"""Per-client abuse limits on state-changing requests, kept in Django's cache (Redis in production)."""
import functools
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render


def parse_rate(rate):
    """(requests, seconds) from "10/600", or None when the limit is switched off ("")."""
    if not rate:
        return None
    requests, seconds = rate.split("/")
    return int(requests), int(seconds)


def client_address(request):
    """The client as a limit key: its address (the one the trusted proxies in front of us saw, if any);
    for IPv6 its /64 network, since one client can use every address in it."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    address = forwarded[-hops] if hops and len(forwarded) >= hops else request.META.get("REMOTE_ADDR", "")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def is_over_limit(scope, request, rate_setting):
    """Count this request against `scope`'s fixed window for the client; True once the limit is passed."""
    rate = parse_rate(getattr(settings, rate_setting))
    if rate is None:
        return False
    requests, seconds = rate
    window = int(time.time() // seconds)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    try:
        if cache.add(key, 1, timeout=seconds + 1):
            return False
        return cache.incr(key) > requests
    except Exception:  # a cache outage must not take the shop down with it
        return False


def limit_posts(scope, rate_setting):
    """Answer 429 to POSTs from a client that passed `rate_setting` (e.g. "10/600") for `scope`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST" and is_over_limit(scope, request, rate_setting):
                _, seconds = parse_rate(getattr(settings, rate_setting))
                response = render(request, "429.html", {"retry_after": seconds}, status=429)
                response["Retry-After"] = str(seconds)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
