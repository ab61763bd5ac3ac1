"""A customer's orders and reordering one."""

from allauth.account.models import EmailAddress
from django.db.models import Q

from cart.cart import Cart
from orders.models import Order, mailbox_of


def verified_mailboxes(user):
    """The mailboxes of the user's verified addresses (never an unverified one: anyone can type an address)."""
    addresses = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    return sorted({mailbox_of(address) for address in addresses} - {""})


def orders_of(user):
    """The user's orders: those placed logged in, and guest orders sent to one of their verified mailboxes."""
    guest = Q(customer__isnull=True, mailbox__in=verified_mailboxes(user))
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
            product.name if quantity == item.quantity else f"{product.name} ({quantity} of {item.quantity})"
        )
    return added, short, unavailable
