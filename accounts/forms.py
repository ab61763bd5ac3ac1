import re

from django import forms

from core.forms import RENDERER

from .models import Address


class AddressForm(forms.ModelForm):
    default_renderer = RENDERER
    # Longer than a code, so that "Germany" meets the message below rather than a length error.
    country = forms.CharField(
        label="Country",
        max_length=60,
        help_text="A two-letter code, such as DE",
        widget=forms.TextInput(attrs={"autocomplete": "country"}),
        error_messages={"required": "Enter the country as a two-letter code, such as DE"},
    )
    make_default = forms.BooleanField(label="Use as my default address", required=False)

    class Meta:
        model = Address
        fields = ["first_name", "last_name", "address", "address_line2", "postal_code", "city", "country", "phone"]
        widgets = {
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "address": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "address_line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
        }
        error_messages = {
            "first_name": {"required": "Enter the first name"},
            "last_name": {"required": "Enter the last name"},
            "address": {"required": "Enter the street and house number"},
            "postal_code": {"required": "Enter the postal code"},
            "city": {"required": "Enter the town or city"},
            "country": {"required": "Enter the country as a two-letter code, such as DE"},
        }

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str):
                value = value.strip()
                if "\r" in value or "\n" in value or "\x00" in value:
                    self.add_error(name, f"Write the {self.fields[name].label.lower()} on a single line")
                cleaned[name] = value
        return cleaned

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise forms.ValidationError("Enter the country as a two-letter code, such as DE")
        return country
