from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cart.cart import Cart
from core.ratelimit import limit_posts
from shop.money import format_money

from . import limits, session
from .services import CouponError, clean_code, customer_key, quote


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def coupon_apply(request):
    """Apply the posted code to the cart if it gives a discount now; else say exactly why not."""
    refusal = limits.guessing_refusal(request)  # counts this code
    if refusal:  # no lookup at all: a guesser learns nothing more
        messages.error(request, refusal)
        return redirect("cart:cart_detail")
    cart = Cart(request.session)
    user = request.user
    try:
        code = clean_code(request.POST.get("code"))
        applied = quote(
            code,
            goods=cart.total(),
            customer=customer_key(account_id=user.id) if user.is_authenticated else None,
            applying=True,
        )
        if applied.problem:
            raise CouponError(applied.problem)
    except CouponError as error:
        messages.error(request, str(error))
        return redirect("cart:cart_detail")
    limits.not_refused(request)
    session.remember(request.session, applied.code)
    messages.success(request, applied_message(applied))
    return redirect("cart:cart_detail")


@require_POST
def coupon_remove(request):
    if session.remembered_code(request.session):
        session.forget(request.session)
        messages.info(request, _("The coupon was removed from your cart."))
    return redirect("cart:cart_detail")


def applied_message(applied):
    """What the cart says of a coupon just applied: the amount it takes off this cart, and its terms."""
    coupon = applied.coupon
    words = {"code": applied.code, "amount": format_money(applied.discount), "terms": coupon.discount_text}
    if coupon.kind == coupon.Kind.PERCENT:
        return _("The coupon %(code)s takes %(amount)s off your goods (%(terms)s off).") % words
    if applied.discount < coupon.value:  # a fixed amount above the goods takes the goods, no more
        return _("The coupon %(code)s takes %(amount)s off your goods (up to %(terms)s).") % words
    return _("The coupon %(code)s takes %(amount)s off your goods.") % words
