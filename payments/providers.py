"""The providers by name; PAYMENT_PROVIDER names the one new checkouts use."""

from django.conf import settings

from .offline import OfflineProvider
from .stripe_checkout import StripeCheckout

PROVIDERS = {provider.name: provider for provider in (OfflineProvider, StripeCheckout)}


def get_provider(name=None):
    """Provider `name` (default: PAYMENT_PROVIDER's); KeyError for a name that is none."""
    return PROVIDERS[name or settings.PAYMENT_PROVIDER]()


def accepts_webhooks(name):
    """Whether the webhook endpoint of provider `name` is open: Stripe's once its signing secret is set;
    the offline provider's only while it is the shop's provider (it moves no money)."""
    if name == StripeCheckout.name:
        return bool(settings.STRIPE_WEBHOOK_SECRET)
    return name == OfflineProvider.name and settings.PAYMENT_PROVIDER == OfflineProvider.name
