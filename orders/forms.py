import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.forms import RENDERER

from .countries import KNOWN, clean_postal_code, default_country, shipping_countries
from .models import Order

# What mail clients turn into a link: a scheme, "www.", "@", a path after a domain, or a name ending in a
# common top-level domain ("bit.ly", "prize.com"). An order's name and address are printed on pages, invoices
# and in emails the shop sends in its own name, so they must carry no link for someone else's message. Any
# domain would also refuse "St.Peter": the list takes the domains spam uses, and lets such names through.
TLDS = "com|net|org|info|biz|io|ly|me|co|cc|tk|app|xyz|top|site|online|shop|link|click|eu|de|at|ch|uk|us|ru|cn"
LINK = re.compile(
    rf"://|\bwww\.|@|\b[a-z0-9-]+\.[a-z]{{2,}}/|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:{TLDS})\b", re.IGNORECASE
)
PHONE = re.compile(r"\+?[0-9 ()./-]+")
PHONE_DIGITS = range(6, 16)  # E.164 allows 15 digits; fewer than 6 is no reachable number
# Each field as the messages about it name it ("Write your first name on a single line"): a phrase of its own
# per field, as languages decline it (German: "Ihren Vornamen").
YOUR_FIELD = {
    "first_name": gettext_lazy("your first name"),
    "last_name": gettext_lazy("your last name"),
    "email": gettext_lazy("your email"),
    "address": gettext_lazy("your street and house number"),
    "address_line2": gettext_lazy("your address line 2"),
    "postal_code": gettext_lazy("your postal code"),
    "city": gettext_lazy("your city"),
    "country": gettext_lazy("your country"),
    "phone": gettext_lazy("your phone"),
}


class AddressForm(forms.ModelForm):
    """A delivery address as the shop ships to it: the checkout's form, and the customer's saved addresses
    (accounts) with the same rules. The field names are the Order's."""

    default_renderer = RENDERER

    class Meta:
        model = Order
        fields = [
            "first_name",
            "last_name",
            "country",  # before the postal code, which is checked for it
            "address",
            "address_line2",
            "postal_code",
            "city",
            "phone",
        ]
        # Every label given here, in the shopper's language, rather than taken from the model's field names.
        labels = {
            "first_name": gettext_lazy("First name"),
            "last_name": gettext_lazy("Last name"),
            "email": gettext_lazy("Email"),
            "address": gettext_lazy("Street and house number"),
            "address_line2": gettext_lazy("Address line 2 (optional)"),
            "postal_code": gettext_lazy("Postal code"),
            "city": gettext_lazy("City"),
            "country": gettext_lazy("Country"),
            "phone": gettext_lazy("Phone (optional)"),
        }
        help_texts = {
            "address_line2": gettext_lazy("Apartment, floor, c/o name"),
            "phone": gettext_lazy("Only for the delivery service, if it needs to reach you"),
        }
        widgets = {
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "address": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "address_line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "country": forms.Select(attrs={"autocomplete": "country"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel", "inputmode": "tel"}),
        }
        # Each says what to do, also when read alone in the error summary at the top of the page.
        error_messages = {
            "first_name": {"required": gettext_lazy("Enter your first name")},
            "last_name": {"required": gettext_lazy("Enter your last name")},
            "address": {"required": gettext_lazy("Enter your street and house number")},
            "postal_code": {"required": gettext_lazy("Enter your postal code")},
            "city": {"required": gettext_lazy("Enter your town or city")},
            "country": {"invalid_choice": gettext_lazy("Choose a country from the list: we ship only there")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without the field (a script older than it) is for the first country, as the page's
        # preselected choice would be; an empty choice is refused in clean_country.
        self.fields["country"].required = False
        # Offered: where the shop ships now. Stored orders may name a country dropped since (the model's choices).
        self.fields["country"].choices = shipping_countries()

    def clean_country(self):
        if "country" not in self.data:
            return default_country()
        if not self.cleaned_data["country"]:
            raise ValidationError(_("Choose the country to deliver to"))
        return self.cleaned_data["country"]

    def clean_address(self):
        address = self.cleaned_data["address"]
        if len(address) < 3 or sum(char.isalpha() for char in address) < 2:
            raise ValidationError(_("Enter your street and house number, like 12 Main Street"))
        return address

    def clean_city(self):
        city = self.cleaned_data["city"]
        if sum(char.isalpha() for char in city) < 2:
            raise ValidationError(_("Enter your town or city, like Berlin"))
        return city

    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        if phone and not (PHONE.fullmatch(phone) and sum(char.isdigit() for char in phone) in PHONE_DIGITS):
            raise ValidationError(_("Enter a phone number like +49 30 1234567, or leave the phone empty"))
        return phone

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str):
                value = value.strip()
                # Line breaks have no place in these fields, and some reach email headers.
                if "\r" in value or "\n" in value or "\x00" in value:
                    self.add_error(name, _("Write %(your_field)s on a single line") % {"your_field": self._named(name)})
                cleaned[name] = value
        for name in ("first_name", "last_name", "address", "address_line2", "city"):
            if LINK.search(cleaned.get(name) or ""):
                self.add_error(
                    name, _("Write %(your_field)s without web or email addresses") % {"your_field": self._named(name)}
                )
        country, postal_code = cleaned.get("country"), cleaned.get("postal_code")
        if country in KNOWN and postal_code and "postal_code" not in self.errors:
            try:
                cleaned["postal_code"] = clean_postal_code(country, postal_code)
            except ValidationError as error:
                self.add_error("postal_code", error)
        return cleaned

    def _named(self, name):
        return YOUR_FIELD[name] if name in YOUR_FIELD else self.fields[name].label


class OrderCreateForm(AddressForm):
    # Issued with the form and stored with the order, so a double submission finds the first order.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    class Meta(AddressForm.Meta):
        fields = ["first_name", "last_name", "email", *AddressForm.Meta.fields[2:]]
        widgets = {**AddressForm.Meta.widgets, "email": forms.EmailInput(attrs={"autocomplete": "email"})}
        error_messages = {
            **AddressForm.Meta.error_messages,
            "email": {
                "required": gettext_lazy("Enter your email address"),
                "invalid": gettext_lazy("Enter an email address like name@example.com"),
            },
        }
