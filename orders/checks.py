"""Deploy checks for what Django's own `check --deploy` cannot know about this shop."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

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
