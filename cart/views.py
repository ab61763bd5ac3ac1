from typing import NamedTuple

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.ratelimit import limit_posts
from core.reversing import kept_reverse
from shop.lookups import available_product
from shop.models import Product

from . import pages
from .cart import Cart, CartError, CartLine, quantity_limit
from .forms import CartAddProductForm, CartLineForm


def _apply_quantity(request, product, *, override):
    """Validate the posted quantity and change the cart; report the outcome as a message.

    A refused change is remembered for the form the shopper is sent back to, so that they correct the
    number they chose rather than start again from 1, and the cart page shows why in the line's row. On the
    cart page (override), 0 removes the line.
    """
    form = (CartLineForm if override else CartAddProductForm)(request.POST)
    cart = Cart(request.session)
    if not form.is_valid():
        problems = " ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, _("“%(product)s”: %(problems)s") % {"product": product.name, "problems": problems})
        cart.remember_refused(product.id, None, problems)
        return False
    quantity = form.cleaned_data["quantity"]
    if quantity == 0:
        cart.remove(product.id)
        messages.info(request, _("“%(product)s” was removed from your cart.") % {"product": product.name})
        return True
    try:
        cart.add(product, quantity, override=override)
    except CartError as error:
        messages.error(request, str(error))
        cart.remember_refused(product.id, quantity, str(error))
        return False
    messages.success(
        request,
        _("“%(product)s”: %(count)s in your cart.") % {"product": product.name, "count": cart.quantity_of(product.id)},
    )
    return True


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_add(request, product_id):
    product = available_product(product_id)
    if product is None:
        raise Http404("No product matches the given query.")
    if _apply_quantity(request, product, override=False):
        return redirect(kept_reverse("cart:cart_detail"))
    return redirect(product)


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_update(request, product_id):
    """Set a line's quantity (0 removes it); also the target of a stale line's "Change to N" button."""
    product = Product.objects.filter(id=product_id, available=True).first()
    if product is None:
        Cart(request.session).remove(product_id)
        messages.warning(request, _("That item is no longer available and was removed from your cart."))
    else:
        _apply_quantity(request, product, override=True)
    return redirect("cart:cart_detail")


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_remove(request, product_id):
    Cart(request.session).remove(product_id)
    messages.info(request, _("Item removed from your cart."))
    return redirect("cart:cart_detail")


class CartRow(NamedTuple):
    """One line of the cart page: the line, its quantity form, and what is wrong with it ("" if nothing)."""

    line: CartLine
    form: CartLineForm
    problem: str
    problem_id: str


@require_safe
def cart_detail(request):
    cart = Cart(request.session)
    for notice in cart.sync(report_stale=False):  # stale lines are flagged in their rows and summed up on top
        messages.warning(request, notice)
    rows = []
    for line in cart:
        product_id = line.product.id
        refused = cart.pop_refused(product_id)
        # A stale line shows what is true now; otherwise a change just refused shows again, with its reason.
        if line.is_stale or refused is None:
            problem, quantity = line.problem, line.quantity
        else:
            problem, quantity = refused.error, line.quantity if refused.quantity is None else refused.quantity
        problem_id = f"line-{product_id}-problem"
        form = CartLineForm(
            initial={"quantity": quantity},
            max_quantity=quantity_limit(line.product),
            auto_id=f"id_line{product_id}_%s",
            described_by=problem_id if problem else None,
        )
        rows.append(CartRow(line, form, problem, problem_id))
    sections = pages.sections(request, cart) if rows else []
    return render(
        request,
        "cart/detail.html",
        {"cart": cart, "rows": rows, "stale_lines": cart.stale_lines(), "sections": sections},
    )
