"""Deploy checks for what Django's own `check --deploy` cannot know about this shop."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .countries import KNOWN

DEFAULT_SITE_URL = "http://127.0.0.1:8000"


@register(Tags.security, deploy=True)
def check_email_links(app_configs, **kwargs):
    """Emails link to SHOP_SITE_URL: in production it must be the shop's public https address."""
    if settings.SHOP_SITE_URL.rstrip("/") == DEFAULT_SITE_URL or not settings.SHOP_SITE_URL.startswith("https://"):
        return [
            Warning(
                f"SHOP_SITE_URL is not the shop's public https address; emails would link to {settings.SHOP_SITE_URL}.",
                hint="Set SHOP_SITE_URL=https://your-shop.example",
                id="orders.W001",
            )
        ]
    return []


# Backends that write whole emails (names, addresses, status links) to the log or to files, or keep them.
NON_DELIVERING_MAIL_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
)


@register(Tags.security, deploy=True)
def check_emails_are_delivered(app_configs, **kwargs):
    """With DEBUG off, emails must go to a mail server, not into logs or files full of personal data."""
    if not settings.DEBUG and settings.EMAIL_BACKEND in NON_DELIVERING_MAIL_BACKENDS:
        return [
            Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: customers get no email, and whole emails "
                "(names, addresses, status links) end up in the log or on disk.",
                hint="Use orders.mail.SMTPBackend (the default with DEBUG off) and set EMAIL_HOST.",
                id="orders.W002",
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
                id="orders.W003",
            )
        ]
    return []


@register()
def check_shipping_countries(app_configs, **kwargs):
    """Each country the shop ships to must be one whose postal codes the checkout can check."""
    unknown = [code for code in settings.SHOP_SHIPPING_COUNTRIES if code not in KNOWN]
    if unknown:
        return [
            Error(
                f"SHOP_SHIPPING_COUNTRIES names countries the checkout does not know: {', '.join(unknown)}.",
                hint=f"Use some of {', '.join(sorted(KNOWN))}, or add the country to orders/countries.py.",
                id="orders.E001",
            )
        ]
    return []
