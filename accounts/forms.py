from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from orders.forms import AddressForm as DeliveryAddressForm

from .models import Address


class AddressForm(DeliveryAddressForm):
    """A saved address: the checkout's fields and rules (countries shipped to, postal codes per country), so
    an address saved here is one the checkout accepts."""

    make_default = forms.BooleanField(label=_("Use as my default address"), required=False)

    class Meta(DeliveryAddressForm.Meta):
        model = Address


class SignupForm(AllauthSignupForm):
    """allauth's sign-up, as slow for an address that has an account as for a new one: allauth hashes the
    password only for a new account, and the half second that takes would tell which addresses have one."""

    def try_save(self, request):
        if self.account_already_exists:
            get_user_model()().set_password(self.cleaned_data.get("password1"))  # thrown away, as allauth's login does
        return super().try_save(request)
