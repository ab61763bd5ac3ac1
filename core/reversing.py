"""reverse() for the addresses pages ask for most, kept once worked out: a product's or category's address cost
about 30 µs to reverse, five times on a product page (bench/RESULTS.md). The address of a name and arguments
changes only with the code, the language, the script prefix and the URLconf, which are part of the key."""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language


def kept_reverse(viewname, *args):
    """reverse(viewname, args=args), from a process-wide cache of the last 4,096 addresses."""
    return _reverse(viewname, args, get_language(), get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)


@lru_cache(maxsize=4096)
def _reverse(viewname, args, language, script_prefix, urlconf, root_urlconf):
    return reverse(viewname, args=args, urlconf=urlconf)
