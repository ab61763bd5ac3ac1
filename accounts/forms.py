from django import forms

from orders.forms import AddressForm as DeliveryAddressForm

from .models import Address


class AddressForm(DeliveryAddressForm):
    """A saved address: the checkout's fields and rules (countries shipped to, postal codes per country), so
    an address saved here is one the checkout accepts."""

    make_default = forms.BooleanField(label="Use as my default address", required=False)

    class Meta(DeliveryAddressForm.Meta):
        model = Address
