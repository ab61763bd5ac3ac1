"""Configuration checks: a provider that cannot work, a production shop that takes no real money, and invoices
that would not name their seller or would not match what was paid."""

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


SELLER_SETTINGS = {"name": "SHOP_SELLER_NAME", "address": "SHOP_SELLER_ADDRESS", "vat_id": "SHOP_SELLER_VAT_ID"}


@register(Tags.security, deploy=True)
def check_seller_named(app_configs, **kwargs):
    """An invoice must name the seller, its address and its VAT ID: none empty, none the demo company's."""
    if settings.DEBUG:
        return []
    unset = [
        name
        for key, name in SELLER_SETTINGS.items()
        if not str(getattr(settings, name, "")).strip() or getattr(settings, name) == settings.DEMO_SELLER[key]
    ]
    if unset:
        return [
            Warning(
                f"{', '.join(unset)} {'is' if len(unset) == 1 else 'are'} empty or the demo company's: invoices "
                "would not name the real seller, which an EU invoice must.",
                hint="Set the company's legal name, its address (lines separated by \\n) and its VAT ID.",
                id="payments.W002",
            )
        ]
    return []


@register()
def check_prices_include_vat(app_configs, **kwargs):
    """Net catalog prices are not charged with VAT yet: every invoice would ask for more than was paid."""
    if settings.SHOP_PRICES_INCLUDE_VAT:
        return []
    return [
        Warning(
            "SHOP_PRICES_INCLUDE_VAT is off, but the checkout charges the goods' net amounts without adding VAT: "
            "each invoice would show a gross total above what the customer paid.",
            hint="Keep prices including VAT (the default) until the checkout adds VAT to net prices "
            "(docs/invoices.md).",
            id="payments.W003",
        )
    ]
