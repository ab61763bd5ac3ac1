from django import forms
from django.conf import settings

from core.forms import RENDERER


class CartAddProductForm(forms.Form):
    """The quantity of one product to add to the cart, or to set it to."""

    default_renderer = RENDERER

    def __init__(self, *args, max_quantity=None, **kwargs):
        """`max_quantity`: the most the shopper may ask for here (see cart.quantity_limit), for the browser."""
        super().__init__(*args, **kwargs)
        maximum = settings.CART_MAX_QUANTITY  # read per form, so a changed setting applies at once
        widget_max = maximum if max_quantity is None else max(1, min(max_quantity, maximum))
        self.fields["quantity"] = forms.IntegerField(
            min_value=1,
            max_value=maximum,
            initial=1,
            widget=forms.NumberInput(attrs={"class": "qty"}),
        )
        # After the field is made: IntegerField would set the widget's max to max_value (the line cap), while
        # the browser should also stop at the stock (the same limit check_quantity applies on the server).
        self.fields["quantity"].widget.attrs["max"] = widget_max
