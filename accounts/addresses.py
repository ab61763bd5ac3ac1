"""Saved addresses: one default per customer, offered to the checkout form (orders.pages)."""

from django.db import transaction

from .models import Address

# The checkout form's fields an address fills (the order's own names).
FIELDS = ("first_name", "last_name", "address", "address_line2", "postal_code", "city", "country", "phone")


@transaction.atomic
def save(address, *, make_default):
    """Save `address`; the first one, or one marked so, becomes the only default."""
    siblings = Address.objects.select_for_update().filter(user=address.user).exclude(id=address.id)
    if make_default or not siblings.exists():
        siblings.filter(is_default=True).update(is_default=False)
        address.is_default = True
    address.save()
    return address


@transaction.atomic
def delete(address):
    """Delete `address`; if it was the default, the oldest left takes its place."""
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.select_for_update().filter(user=address.user).order_by("id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])


def checkout_initial(request):
    """The logged-in shopper's default address and email, for the checkout form; {} for a guest."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    initial = {"email": user.email} if user.email else {}
    default = Address.objects.filter(user=user, is_default=True).first()
    if default is not None:
        initial.update({field: getattr(default, field) for field in FIELDS})
    return initial
