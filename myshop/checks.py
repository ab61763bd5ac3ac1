"""Deploy checks for production settings that Django's own `check --deploy` does not know about."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

# Cache backends every web process shares, whose incr is atomic and keeps the key's expiry.
SHARED_CACHES = (
    "myshop.cache.RedisCache",  # the production default with CACHE_URL=redis://... (Django's, client reused)
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
)
# Backends that write whole emails (names, addresses, status links) to the log or to files, or keep them.
NON_DELIVERING_MAIL_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
)
LIMIT_SETTINGS = ("RATE_LIMIT_CHECKOUT", "RATE_LIMIT_CART", "RATE_LIMIT_LOGIN", "ORDER_MAX_PER_CLIENT_PER_DAY")


@register(Tags.security, deploy=True)
def check_abuse_limits_are_shared(app_configs, **kwargs):
    """Per-client limits counted in an in-process cache are per process: -w 3 triples them."""
    enabled = [name for name in LIMIT_SETTINGS if getattr(settings, name, "")]
    backend = settings.CACHES["default"]["BACKEND"]
    if enabled and backend not in SHARED_CACHES:
        return [
            Warning(
                f"The abuse limits ({', '.join(enabled)}) are counted in {backend}, which every web "
                "process keeps for itself: each process (and each restart) gets the full limit.",
                hint="Set CACHE_URL=redis://host:6379/0 (a cache all web processes share).",
                id="myshop.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_emails_are_delivered(app_configs, **kwargs):
    """With DEBUG off, emails must go to a mail server, not into logs or files full of personal data."""
    if not settings.DEBUG and settings.EMAIL_BACKEND in NON_DELIVERING_MAIL_BACKENDS:
        return [
            Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: customers get no email, and whole emails "
                "(names, addresses, status links) end up in the log or on disk.",
                hint="Use orders.mail.SMTPBackend (the default with DEBUG off) and set EMAIL_HOST.",
                id="myshop.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_unknown_outcomes_are_told_apart(app_configs, **kwargs):
    """Django's own SMTP backend reports a reply lost after the message like any error: it would be retried,
    and the customer would get a copy per attempt."""
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return [
            Warning(
                "EMAIL_BACKEND is Django's SMTP backend, which cannot tell a mail server that stored the "
                "message but answered too late from one that refused it: such an email would be sent "
                "again on every retry.",
                hint="Use orders.mail.SMTPBackend (Django's, with that told apart).",
                id="myshop.W003",
            )
        ]
    return []
