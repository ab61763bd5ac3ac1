from django import forms
from django.conf import settings


class CartAddProductForm(forms.Form):
    """The quantity of one product to add to the cart, or to set it to."""

    def __init__(self, *args, max_quantity=None, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = settings.CART_MAX_QUANTITY  # read per form, so a changed setting applies at once
        widget_max = maximum if max_quantity is None else max(1, min(max_quantity, maximum))
        self.fields["quantity"] = forms.IntegerField(
            min_value=1,
            max_value=maximum,
            initial=1,
            widget=forms.NumberInput(attrs={"min": 1, "max": widget_max, "class": "qty"}),
        )
