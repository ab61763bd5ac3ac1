"""Configuration checks: a provider that cannot work, and a production shop that takes no real money."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_provider_configured(app_configs, **kwargs):
    """Stripe needs its API key and the webhook endpoint's signing secret."""
    if settings.PAYMENT_PROVIDER == "stripe":
        missing = [name for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET") if not getattr(settings, name)]
        if missing:
            return [
                Error(
                    f"PAYMENT_PROVIDER is stripe but {' and '.join(missing)} is empty.",
                    hint="Both are in Stripe's dashboard (Developers: API keys, Webhooks).",
                    id="payments.E001",
                )
            ]
    return []


@register(Tags.security, deploy=True)
def check_real_money(app_configs, **kwargs):
    """The offline provider lets shoppers approve their own payments: never in production."""
    if settings.PAYMENT_PROVIDER == "offline":
        return [
            Warning(
                "PAYMENT_PROVIDER is offline: shoppers approve their own payments and no money moves.",
                hint="Set PAYMENT_PROVIDER=stripe with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.",
                id="payments.W001",
            )
        ]
    return []
