"""Per-client abuse limits on state-changing requests, kept in Django's cache (Redis in production)."""

import functools
import ipaddress
import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

logger = logging.getLogger(__name__)


def parse_rate(rate):
    """(requests, seconds) from "10/600", or None when the limit is switched off ("")."""
    if not rate:
        return None
    requests, seconds = rate.split("/")
    return int(requests), int(seconds)


# How servers and proxies write a peer: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:443".
_BRACKETED_V6 = re.compile(r"\[([^\]]+)\](?::\d{1,5})?")
_V4_WITH_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")
_warned_unidentifiable = False


def _limit_key(text):
    """The limit key for one address as a server or proxy wrote it, or None if it is not an IP address.
    An IPv6 client gets its /64 network, since one client can use every address in it."""
    text = text.strip()
    match = _BRACKETED_V6.fullmatch(text) or _V4_WITH_PORT.fullmatch(text)
    try:
        parsed = ipaddress.ip_address(match.group(1) if match else text)
    except ValueError:
        return None
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed), 64), strict=False))
    return str(parsed)


def client_address(request):
    """The client as a limit key: the address the outermost trusted proxy saw (TRUSTED_PROXY_COUNT), else
    the peer's; None when neither is an IP address (a unix socket without a trusted proxy)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            key = _limit_key(forwarded[-hops])
            if key is not None:
                return key
    key = _limit_key(request.META.get("REMOTE_ADDR", ""))
    if key is None:
        # Never one shared bucket for every such client (one of them would lock everyone out): not limited.
        global _warned_unidentifiable
        if not _warned_unidentifiable:
            _warned_unidentifiable = True
            logger.warning(
                "abuse limits: the peer address %r is not an IP address, so such requests are not "
                "limited (behind a proxy, set TRUSTED_PROXY_COUNT)",
                request.META.get("REMOTE_ADDR"),
            )
    return key


def count_hit(key, seconds):
    """Count one hit on `key`; the hits so far in its window, which starts at its first hit and lasts
    `seconds` (incr keeps the expiry that add set). Raises whatever the cache raises."""
    if cache.add(key, 1, timeout=seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr: this hit starts the next one
        cache.add(key, 1, timeout=seconds)
        return 1


def is_over_limit(scope, request, rate_setting):
    """Count this request against `scope`'s window for the client; True once the limit is passed."""
    rate = parse_rate(getattr(settings, rate_setting))
    if rate is None:
        return False
    requests, seconds = rate
    address = client_address(request)
    if address is None:
        return False
    try:
        return count_hit(f"ratelimit:{scope}:{address}", seconds) > requests
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
