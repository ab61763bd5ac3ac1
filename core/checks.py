"""Deploy checks for production settings that Django's own `check --deploy` does not know about."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

# Cache backends every web process shares, whose incr is atomic and keeps the key's expiry.
SHARED_CACHES = (
    "django_redis.cache.RedisCache",  # the production default, with CACHE_URL=redis://...
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
)
LIMIT_SETTINGS = ("RATE_LIMIT_CHECKOUT", "RATE_LIMIT_CART", "RATE_LIMIT_LOGIN", "ORDER_MAX_PER_CLIENT_PER_DAY")


@register(Tags.security, deploy=True)
def check_abuse_limits_are_shared(app_configs, **kwargs):
    """Per-client limits counted in an in-process cache are per process: -w 3 triples them."""
    enabled = [name for name in LIMIT_SETTINGS if getattr(settings, name, "")]
    if getattr(settings, "ACCOUNT_RATE_LIMITS", False) is not False:  # allauth's: {} means its defaults
        enabled.append("ACCOUNT_RATE_LIMITS")
    backend = settings.CACHES["default"]["BACKEND"]
    if enabled and backend not in SHARED_CACHES:
        return [
            Warning(
                f"The abuse limits ({', '.join(enabled)}) are counted in {backend}, which every web "
                "process keeps for itself: each process (and each restart) gets the full limit.",
                hint="Set CACHE_URL=redis://host:6379/0 (a cache all web processes share).",
                id="core.W001",
            )
        ]
    return []
