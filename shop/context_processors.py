from django.conf import settings


def shop(request):
    """The shop's name, currency and contact address, for every template."""
    return {
        "shop_name": settings.SHOP_NAME,
        "shop_currency": settings.SHOP_CURRENCY,
        "shop_contact_email": settings.SHOP_CONTACT_EMAIL,
    }
