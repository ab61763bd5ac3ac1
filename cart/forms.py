from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.forms import RENDERER


class CartAddProductForm(forms.Form):
    """The quantity of one product to add to the cart, or to set it to."""

    default_renderer = RENDERER
    min_quantity = 1
    out_of_range = _("Enter a whole number from %(minimum)s to %(maximum)s.")

    def __init__(self, *args, max_quantity=None, **kwargs):
        """`max_quantity`: the most the shopper may ask for here (see cart.quantity_limit), for the browser."""
        super().__init__(*args, **kwargs)
        minimum, maximum = self.min_quantity, settings.CART_MAX_QUANTITY  # read per form: a new setting applies
        widget_max = maximum if max_quantity is None else max(1, min(max_quantity, maximum))
        out_of_range = self.out_of_range % {"minimum": minimum, "maximum": maximum}
        self.fields["quantity"] = forms.IntegerField(
            label=_("Quantity"),
            min_value=minimum,
            max_value=maximum,
            initial=1,
            widget=forms.NumberInput(attrs={"class": "qty"}),
            error_messages=dict.fromkeys(("required", "invalid", "min_value", "max_value"), out_of_range),
        )
        # After the field is made: IntegerField would set the widget's max to max_value (the line cap), while
        # the browser should also stop at the stock (the same limit check_quantity applies on the server).
        self.fields["quantity"].widget.attrs["max"] = widget_max


class CartLineForm(CartAddProductForm):
    """The quantity of a cart line, in its row on the cart page: 0 removes the line."""

    min_quantity = 0
    out_of_range = _("Enter a whole number from %(minimum)s to %(maximum)s (0 removes the item).")

    def __init__(self, *args, described_by=None, **kwargs):
        """`described_by`: the id of the text saying what is wrong with the line, which marks the field invalid."""
        super().__init__(*args, **kwargs)
        if described_by:
            self.fields["quantity"].widget.attrs.update({"aria-describedby": described_by, "aria-invalid": "true"})
