from django import forms

from core.forms import RENDERER

from .models import Order


class OrderCreateForm(forms.ModelForm):
    default_renderer = RENDERER
    # Issued with the form and stored with the order, so a double submission finds the first order.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Order
        fields = ["first_name", "last_name", "email", "address", "postal_code", "city"]
        widgets = {
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "address": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
        }
        # Each says what to do, also when read alone in the error summary at the top of the page.
        error_messages = {
            "first_name": {"required": "Enter your first name"},
            "last_name": {"required": "Enter your last name"},
            "email": {
                "required": "Enter your email address",
                "invalid": "Enter an email address like name@example.com",
            },
            "address": {"required": "Enter your street and house number"},
            "postal_code": {"required": "Enter your postal code"},
            "city": {"required": "Enter your town or city"},
        }

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str):
                value = value.strip()
                # Line breaks have no place in these fields, and some reach email headers.
                if "\r" in value or "\n" in value or "\x00" in value:
                    self.add_error(name, f"Write your {self.fields[name].label.lower()} on a single line")
                cleaned[name] = value
        return cleaned
