from django import template

from coupons.session import cart_quote as quote_of_cart
from shop.money import format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def cart_quote(context, cart):
    """The cart's money with the session's coupon (coupons.services.Quote): {% cart_quote cart as quote %}."""
    return quote_of_cart(context["request"], cart)


@register.filter
def negative_money(amount):
    """{{ discount|negative_money }}: "−€5.00" ("−5,00 €" in German), a reduction in the shop's currency."""
    return f"−{format_money(amount)}"
