from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from core.ratelimit import limit_posts
from shop.lookups import available_product
from shop.models import Product

from .cart import Cart, CartError, quantity_limit
from .forms import CartAddProductForm


def _apply_quantity(request, product, *, override):
    """Validate the posted quantity and change the cart; report the outcome as a message.

    A refused whole quantity is remembered for the form the shopper is sent back to, so that they correct
    the number they chose rather than start again from 1.
    """
    form = CartAddProductForm(request.POST)
    if not form.is_valid():
        problems = " ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, f"“{product.name}”: {problems}")
        return False
    cart = Cart(request.session)
    try:
        cart.add(product, form.cleaned_data["quantity"], override=override)
    except CartError as error:
        messages.error(request, str(error))
        cart.remember_refused(product.id, form.cleaned_data["quantity"])
        return False
    messages.success(request, f"“{product.name}”: {cart.quantity_of(product.id)} in your cart.")
    return True


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_add(request, product_id):
    product = available_product(product_id)
    if product is None:
        raise Http404("No product matches the given query.")
    if _apply_quantity(request, product, override=False):
        return redirect("cart:cart_detail")
    return redirect(product)


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_update(request, product_id):
    product = Product.objects.filter(id=product_id, available=True).first()
    if product is None:
        Cart(request.session).remove(product_id)
        messages.warning(request, "That item is no longer available and was removed from your cart.")
    else:
        _apply_quantity(request, product, override=True)
    return redirect("cart:cart_detail")


@require_POST
@limit_posts("cart", "RATE_LIMIT_CART")
def cart_remove(request, product_id):
    Cart(request.session).remove(product_id)
    messages.info(request, "Item removed from your cart.")
    return redirect("cart:cart_detail")


@require_safe
def cart_detail(request):
    cart = Cart(request.session)
    for notice in cart.sync():
        messages.warning(request, notice)
    lines = []
    for line in cart:
        refused = cart.pop_refused(line.product.id)
        form = CartAddProductForm(
            initial={"quantity": refused or line.quantity},
            max_quantity=quantity_limit(line.product),
            auto_id=f"id_line{line.product.id}_%s",
        )
        lines.append((line, form))
    return render(request, "cart/detail.html", {"cart": cart, "lines": lines})
