"""A customer's orders and reordering one."""

from allauth.account.models import EmailAddress
from django.db.models import Q
from django.utils.translation import gettext as _

from cart.cart import Cart
from orders.models import Order


def verified_addresses(user):
    """The user's verified addresses (never an unverified one: anyone can type an address)."""
    return sorted(EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True))


def orders_of(user):
    """The user's orders: those placed logged in, and guest orders sent to one of their verified addresses.

    The address as written, ignoring case, never the mailbox the daily cap counts: that folds "+tags", and
    whoever verifies ada+x@example.com must not see ada@example.com's orders (not every provider has tags)."""
    to_verified = Q()
    for address in verified_addresses(user):
        to_verified |= Q(email__iexact=address)  # UPPER(email) = UPPER(%s): the order_email_upper_idx index
    guest = Q(customer__isnull=True) & to_verified if to_verified else Q(pk__in=[])
    return Order.objects.filter(Q(customer=user) | guest)


def reorder(*, session, order):
    """Put `order`'s lines that can still be bought back into the session's cart, as many as it may hold.

    Returns (added, short, unavailable): product names added in full, "name (n of m)" added in part, and
    names that cannot be bought now."""
    cart = Cart(session)
    added, short, unavailable = [], [], []
    for item in order.items.select_related("product").order_by("id"):
        product = item.product
        quantity = min(item.quantity, cart.addable_quantity(product))
        if quantity < 1:
            unavailable.append(product.name)
            continue
        cart.add(product, quantity)
        (added if quantity == item.quantity else short).append(
            product.name
            if quantity == item.quantity
            else _("%(product)s (%(added)s of %(ordered)s)")
            % {"product": product.name, "added": quantity, "ordered": item.quantity}
        )
    return added, short, unavailable
