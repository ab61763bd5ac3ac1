"""The "bought together" sections of the product and cart pages (added by RecommendationsConfig)."""

from django.template.loader import render_to_string

from . import services


def product_section(request, product):
    """What is bought with `product`, or its category's best sellers; "" when there is nothing to show."""
    suggestions = services.for_product(product)
    if not suggestions:
        return ""
    title = "Customers also bought" if suggestions.learned else f"Popular in {product.category.name}"
    return render_to_string(
        "recommendations/_suggestions.html", {"title": title, "suggestions": suggestions}, request=request
    )


def cart_section(request, cart):
    """What is bought with the cart's items (not themselves), or their categories' best sellers; "" if none."""
    suggestions = services.for_cart([line.product for line in cart])
    if not suggestions:
        return ""
    title = "Often bought with your cart" if suggestions.learned else "Popular with our customers"
    return render_to_string(
        "recommendations/_suggestions.html", {"title": title, "suggestions": suggestions}, request=request
    )
