"""Caps that keep one client from hoarding the stock in unpaid orders.

Per order line the cart's own cap applies (CART_MAX_QUANTITY). On top of it: units per order
(ORDER_MAX_UNITS), orders per email address a day (ORDER_MAX_PER_EMAIL_PER_DAY, counted in the database)
and orders per client a day (ORDER_MAX_PER_CLIENT_PER_DAY, counted in the cache like the abuse limits,
per client address). So one client can hold at most ORDER_MAX_UNITS x ORDER_MAX_PER_CLIENT_PER_DAY units
a day. 0 switches a cap off.
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.ratelimit import client_address, count_hit

from .models import Order, mailbox_of
from .services import OrderPlacementError

DAY_SECONDS = 24 * 60 * 60


def check_order_limits(request, quantities, email):
    """Raise OrderPlacementError (with the message for the shopper) if placing an order of `quantities`
    ({product_id: quantity}) for `email` from this client would pass a cap; call record_order() once the
    order is placed."""
    units, max_units = sum(quantities.values()), settings.ORDER_MAX_UNITS
    if max_units and units > max_units:
        raise OrderPlacementError(
            f"An order can hold at most {max_units} items and your cart has {units}: "
            "please remove some before placing the order."
        )
    per_client = settings.ORDER_MAX_PER_CLIENT_PER_DAY
    if per_client and _orders_from_client(request) >= per_client:
        raise OrderPlacementError(
            f"We accept at most {per_client} orders a day from one connection. "
            "Please try again tomorrow, or contact us."
        )
    per_email = settings.ORDER_MAX_PER_EMAIL_PER_DAY
    if per_email and _orders_for_email(email) >= per_email:
        raise OrderPlacementError(
            f"We accept at most {per_email} orders a day for one email address. "
            "Please try again tomorrow, or contact us."
        )


def record_order(request):
    """Count an order just placed against this client's daily cap."""
    key = _client_key(request)
    if key is not None and settings.ORDER_MAX_PER_CLIENT_PER_DAY:
        try:
            count_hit(key, DAY_SECONDS)
        except Exception:  # a cache outage must not fail an order that is already placed
            pass


def _client_key(request):
    address = client_address(request)
    return None if address is None else f"orderlimit:client:{address}"


def _orders_from_client(request):
    key = _client_key(request)
    if key is None:
        return 0
    try:
        return cache.get(key, 0)
    except Exception:  # as with the abuse limits: a cache outage does not stop the shop
        return 0


def _orders_for_email(email):
    """Orders of the last 24 hours for this mailbox: case and a +tag do not make another address."""
    recent = Order.objects.filter(
        mailbox=mailbox_of(email), created__gte=timezone.now() - timedelta(seconds=DAY_SECONDS)
    )
    return recent.exclude(status=Order.Status.CANCELLED).count()
