"""Caps that keep one client from hoarding the stock in unpaid orders.

Per order line the cart's own cap applies (CART_MAX_QUANTITY). On top of it: units per order
(ORDER_MAX_UNITS), orders per mailbox a day (ORDER_MAX_PER_EMAIL_PER_DAY, counted in the database under a
lock by orders.services.place_order) and orders per client a day (ORDER_MAX_PER_CLIENT_PER_DAY, counted in
the cache like the abuse limits, per client address). So one client can hold at most ORDER_MAX_UNITS x
ORDER_MAX_PER_CLIENT_PER_DAY units a day. 0 switches a cap off.

Both daily caps are exact when checkouts race (tests/orders/test_limit_races.py): an order takes its place
in the count before it is placed, atomically, and gives it back if it is not placed.
"""

from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from core.ratelimit import client_address, count_hit

from .services import OrderPlacementError

DAY_SECONDS = 24 * 60 * 60


def check_order_size(quantities):
    """Raise OrderPlacementError (with the message for the shopper) for an order of more units than allowed."""
    units, max_units = sum(quantities.values()), settings.ORDER_MAX_UNITS
    if max_units and units > max_units:
        raise OrderPlacementError(
            _(
                "An order can hold at most %(max_units)s items and your cart has %(units)s: please remove some "
                "before placing the order."
            )
            % {"max_units": max_units, "units": units}
        )


class _Slot:
    def __init__(self, key):
        self.key = key

    def give_back(self):
        """The order taken for was not placed (or placed earlier, by a twin request): it does not count."""
        key, self.key = self.key, None
        if key is not None:
            try:
                cache.decr(key)
            except Exception:  # the window ended meanwhile (ValueError), or the cache is down: nothing to undo
                pass


@contextmanager
def client_order_slot(request):
    """Take one of this client's orders of the day for the order placed inside the block: OrderPlacementError
    past the cap; given back if the block raises. A cache outage does not stop the shop: no slot is taken."""
    per_client = settings.ORDER_MAX_PER_CLIENT_PER_DAY
    address = client_address(request) if per_client else None
    key = None if address is None else f"orderlimit:client:{address}"
    slot = _Slot(None)
    if key is not None:
        try:
            taken = count_hit(key, DAY_SECONDS)
        except Exception:
            taken = None
        if taken is not None:
            slot = _Slot(key)
            if taken > per_client:
                slot.give_back()
                raise OrderPlacementError(
                    _(
                        "We accept at most %(count)s orders a day from one connection. Please try again tomorrow, "
                        "or contact us."
                    )
                    % {"count": per_client}
                )
    try:
        yield slot
    except BaseException:
        slot.give_back()
        raise
