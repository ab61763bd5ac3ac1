from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from cart.cart import Cart

from .forms import OrderCreateForm
from .models import Order
from .services import OrderPlacementError, place_order

LAST_ORDER_KEY = "last_order_token"


@require_http_methods(["GET", "HEAD", "POST"])
def order_create(request):
    return _checkout(request, notify=True)


@require_http_methods(["POST"])
def order_create_floor(request):
    """Checkout without handing the email to the broker: the benchmark's floor (off unless configured)."""
    return _checkout(request, notify=False)


def _checkout(request, *, notify):
    cart = Cart(request.session)
    for notice in cart.sync():
        messages.warning(request, notice)
    if not cart:
        messages.info(request, "Your cart is empty: add something before checking out.")
        return redirect("cart:cart_detail")

    form = OrderCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = place_order(customer=form.cleaned_data, quantities=cart.quantities(), notify=notify)
        except OrderPlacementError as error:
            form.add_error(None, str(error))
        else:
            cart.clear()
            request.session[LAST_ORDER_KEY] = str(order.token)
            return redirect("orders:order_created")  # a refresh cannot submit the order again
    status = 400 if request.method == "POST" else 200
    return render(request, "orders/order/create.html", {"cart": cart, "form": form}, status=status)


@require_safe
def order_created(request):
    token = request.session.get(LAST_ORDER_KEY)
    order = Order.objects.filter(token=token).first() if token else None
    if order is None:
        return redirect("shop:product_list")
    return render(request, "orders/order/created.html", _order_context(order))


@require_safe
def order_detail(request, token):
    order = get_object_or_404(Order, token=token)
    return render(request, "orders/order/detail.html", _order_context(order))


def _order_context(order):
    items = list(order.items.select_related("product"))
    return {"order": order, "items": items, "total": sum((item.get_cost() for item in items), 0)}
