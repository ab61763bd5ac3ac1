"""The "bought together" sections of the product and cart pages (added by RecommendationsConfig)."""

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from . import services


def product_section(request, product):
    """What is bought with `product`, or its category's best sellers; "" when there is nothing to show."""
    suggestions = services.for_product(product)
    if not suggestions:
        return ""
    if suggestions.learned:
        title = _("Customers also bought")
    else:
        title = _("Popular in %(category)s") % {"category": product.category.name}
    return render_to_string(
        "recommendations/_suggestions.html", {"title": title, "suggestions": suggestions}, request=request
    )


def cart_section(request, cart):
    """What is bought with the cart's items (not themselves), or their categories' best sellers; "" if none."""
    suggestions = services.for_cart([line.product for line in cart])
    if not suggestions:
        return ""
    title = _("Often bought with your cart") if suggestions.learned else _("Popular with our customers")
    return render_to_string(
        "recommendations/_suggestions.html", {"title": title, "suggestions": suggestions}, request=request
    )
