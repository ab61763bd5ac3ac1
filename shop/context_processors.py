from django.conf import settings


def shop(request):
    """The shop's name and currency, for every template."""
    return {"shop_name": settings.SHOP_NAME, "shop_currency": settings.SHOP_CURRENCY}
