from django import template

from shop.money import format_money

register = template.Library()


@register.filter
def money(amount):
    """{{ amount|money }}: the amount in the shop's currency (see shop.money.format_money)."""
    return format_money(amount)
