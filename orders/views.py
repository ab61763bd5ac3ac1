import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from cart.cart import Cart
from myshop.ratelimit import limit_posts

from .forms import OrderCreateForm
from .limits import check_order_limits, record_order
from .models import Order, OrderEmail
from .services import OrderPlacementError, place_order

LAST_ORDER_KEY = "last_order_token"


@never_cache  # a form restored from the browser's history would carry a spent idempotency key
@require_http_methods(["GET", "HEAD", "POST"])
@limit_posts("checkout", "RATE_LIMIT_CHECKOUT")
def order_create(request):
    cart = Cart(request.session)
    if request.method == "POST":
        earlier = _order_for_resubmitted_form(request)
        if earlier is not None:  # the same form sent twice: show the order it already placed
            _remember_order(request, earlier)
            return redirect("orders:order_created")
    for notice in cart.sync():
        messages.warning(request, notice)
    if not cart:
        messages.info(request, "Your cart is empty: add something before checking out.")
        return redirect("cart:cart_detail")

    if request.method == "POST":
        form = OrderCreateForm(request.POST)
        if form.is_valid():
            if cart.repriced:
                # Never charge a price the shopper has not seen: show it, and let them submit again.
                form.add_error(None, "Prices changed since you added these items (see above). Please check "
                                     "your order and place it again.")
            else:
                try:
                    check_order_limits(request, cart.quantities(), form.cleaned_data["email"])
                    order = place_order(customer=form.cleaned_data, quantities=cart.quantities(),
                                        idempotency_key=_issued_key(request, form.cleaned_data["idempotency_key"]),
                                        prices_seen=cart.prices_seen())
                except OrderPlacementError as error:
                    form.add_error(None, str(error))
                else:
                    record_order(request)
                    request.session.cycle_key()  # whoever planted this session's cookie must not see the order
                    cart.clear()
                    _remember_order(request, order)
                    return redirect("orders:order_created")  # a refresh cannot submit the order again
        status = 400
    else:
        form = OrderCreateForm(initial={"idempotency_key": _issue_key(request)})
        status = 200
    return render(request, "orders/order/create.html", {"cart": cart, "form": form}, status=status)


ISSUED_KEYS = "checkout_keys"


def _issue_key(request):
    """A new one-time key for a checkout form, remembered in the session (the last few only)."""
    key = str(uuid.uuid4())
    request.session[ISSUED_KEYS] = (request.session.get(ISSUED_KEYS, []) + [key])[-5:]
    return key


def _issued_key(request, key):
    """`key` if this session was given it (a key from elsewhere must not reach someone else's order)."""
    return key if key is not None and str(key) in request.session.get(ISSUED_KEYS, []) else None


def _order_for_resubmitted_form(request):
    try:
        key = uuid.UUID(request.POST.get("idempotency_key", ""))
    except ValueError:
        return None
    key = _issued_key(request, key)
    return Order.objects.filter(idempotency_key=key).first() if key else None


LAST_ORDER_MINUTES = 30  # the thank-you page is for the shopper who just ordered, not the next user of a shared PC


def _remember_order(request, order):
    request.session[LAST_ORDER_KEY] = {"token": str(order.token), "at": timezone.now().timestamp()}


@never_cache
@require_safe
def order_created(request):
    last = request.session.get(LAST_ORDER_KEY)
    fresh = isinstance(last, dict) and timezone.now().timestamp() - float(last.get("at", 0)) < LAST_ORDER_MINUTES * 60
    order = Order.objects.filter(token=last.get("token")).first() if fresh else None
    if order is None:
        return redirect("shop:product_list")
    return render(request, "orders/order/created.html", _order_context(order))


@never_cache  # private: it shows the customer's address
@require_safe
def order_detail(request, token):
    order = get_object_or_404(Order, token=token)
    return render(request, "orders/order/detail.html", _order_context(order))


def _order_context(order):
    items = list(order.items.select_related("product"))
    return {"order": order, "items": items, "total": sum((item.get_cost() for item in items), 0),
            "confirmation": order.emails.filter(kind=OrderEmail.Kind.CONFIRMATION).first()}
