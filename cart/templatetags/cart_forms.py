from django import template

from cart.cart import Cart
from cart.forms import CartAddProductForm

register = template.Library()


@register.inclusion_tag("cart/_add_to_cart.html", takes_context=True)
def add_to_cart(context, product):
    """The "Add to cart" form of a product page: at most what this cart may still take, and a quantity the
    cart refused a moment ago shown again, so that the shopper corrects it rather than starts over."""
    cart = context.get("cart") or Cart(context["request"].session)
    addable = cart.addable_quantity(product)
    refused = cart.pop_refused(product.id)
    return {
        "product": product,
        "form": CartAddProductForm(
            initial={"quantity": refused.quantity if refused and refused.quantity else 1}, max_quantity=addable
        ),
        "addable": addable,
        "in_cart": cart.quantity_of(product.id),
        "csrf_token": context.get("csrf_token"),
    }
