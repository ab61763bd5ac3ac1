import logging
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from cart.cart import Cart
from core.ratelimit import limit_posts
from coupons import session as coupon_session

from . import pages
from .forms import OrderCreateForm
from .limits import check_order_size, client_order_slot
from .models import Order
from .services import OrderPlacementError, place_order

logger = logging.getLogger(__name__)

LAST_ORDER_KEY = "last_order_token"


@never_cache  # a form restored from the browser's history would carry a spent idempotency key
@require_http_methods(["GET", "HEAD", "POST"])
@limit_posts("checkout", "RATE_LIMIT_CHECKOUT")
def order_create(request):
    cart = Cart(request.session)
    if request.method == "POST" and (
        not cart or request.POST.get("idempotency_key") in request.session.get(SPENT_KEYS, [])
    ):
        earlier = _order_for_resubmitted_form(request)
        if earlier is not None:  # the same form sent twice: show the order it already placed
            return _thank_you(request, earlier)
    cart_problems = []
    if request.method == "GET":
        cart_problems = _synced_cart_problems(request, cart)
    if not cart:
        return redirect("cart:cart_detail")  # the cart page says it is empty

    if request.method == "POST":
        form = OrderCreateForm(request.POST)
        if form.is_valid():
            try:
                check_order_size(cart.quantities())
                with client_order_slot(request) as slot:
                    # Every line is checked under the row locks: one withdrawn, sold out, short or repriced
                    # since the checkout page refuses the whole order (never a partial one), naming the line.
                    order = place_order(
                        customer=form.cleaned_data,
                        quantities=cart.quantities(),
                        idempotency_key=_issued_key(request, form.cleaned_data["idempotency_key"]),
                        prices_seen=cart.prices_seen(),
                        max_per_mailbox=settings.ORDER_MAX_PER_EMAIL_PER_DAY,
                        customer_account=request.user if request.user.is_authenticated else None,
                        # The code the cart remembers, never a discount from the form: checked again there.
                        coupon_code=coupon_session.remembered_code(request.session),
                        discount_seen=_discount_seen(request),
                        language=translation.get_language(),  # the page's (its URL prefix): the emails' too
                    )
                    if getattr(order, "loaded_items", None) is None:  # placed earlier, by this form's twin
                        slot.give_back()
            except OrderPlacementError as error:
                earlier = _order_for_resubmitted_form(request)
                if earlier is not None:  # this form's order exists (a retry after an error page): show it
                    return _thank_you(request, earlier)
                cart_problems = _synced_cart_problems(request, cart)  # the cart as the catalog is now
                if not cart_problems:  # else the cart's box says what is wrong, once
                    form.add_error(None, str(error))
            else:
                _spend_key(request, form.cleaned_data["idempotency_key"])
                cart.clear()
                coupon_session.forget(request.session)
                _remember_last_order(request, order)  # before the cycle, which stores the session
                _cycle_session(request, order)
                return _thank_you(request, order)
        status = 400
    else:
        form = OrderCreateForm(initial={**pages.checkout_initial(request), "idempotency_key": _issue_key(request)})
        status = 200
    quote = coupon_session.cart_quote(request, cart)
    context = {"cart": cart, "form": form, "cart_problems": cart_problems, "quote": quote}
    return render(request, "orders/order/create.html", context, status=status)


def _discount_seen(request):
    """The discount the checkout page showed (its hidden field), to compare only; None if absent or unreadable."""
    try:
        seen = Decimal(request.POST["discount_seen"])
    except (KeyError, InvalidOperation):
        return None
    return seen if seen.is_finite() else None


def _synced_cart_problems(request, cart):
    """Bring the cart in line with the catalog (what it dropped or repriced becomes a message); what keeps it
    from being ordered as it is now, each said once, in the checkout's box: the checkout then offers no
    "Place order". The stale lines are the cart's own check (cart.cart.Cart.stale_lines); a coupon that no
    longer applies is one too (it is removed, or the cart changed, in the cart)."""
    before = cart.quantities()
    for notice in cart.sync(report_stale=False):
        messages.warning(request, notice)
    problems = [
        # Its first letter lowered only: "Only 1 left" reads "only 1 left", and German nouns keep their capitals.
        _("“%(product)s”: %(problem)s.")
        % {"product": line.product.name, "problem": line.problem[:1].lower() + line.problem[1:]}
        for line in cart.stale_lines()
    ]
    if cart.quantities().keys() != before.keys() and cart:
        problems.append(_("Something in your cart is no longer sold and was removed: check what is left."))
    coupon_problem = coupon_session.cart_quote(request, cart).problem if cart else ""
    if coupon_problem:
        problems.append(_("%(problem)s Remove the coupon or change your cart.") % {"problem": coupon_problem})
    return problems


CYCLED_SESSION_SECONDS = 300


def _cycle_session(request, order):
    """A new session key once the order is placed: whoever planted this session's cookie must not see the
    order. The old key is remembered for a few minutes with the order, so that the other request of a
    double click, still carrying the old cookie, shows this order instead of an empty cart."""
    old_key = request.session.session_key
    if old_key:  # before the old session is dropped: a request reading it in between finds the order
        try:
            cache.set(f"checkout:cycled:{old_key}", order.id, CYCLED_SESSION_SECONDS)
        except Exception as error:  # the cache is down: only a double click's second request misses the order
            logger.warning("order %s: could not remember the renewed session (%s)", order.number, type(error).__name__)
    request.session.cycle_key()


ISSUED_KEYS = "checkout_keys"
SPENT_KEYS = "checkout_spent_keys"  # keys whose form placed an order: sent again, it shows that order


def _issue_key(request):
    """A new one-time key for a checkout form, remembered in the session (the last few only)."""
    key = str(uuid.uuid4())
    request.session[ISSUED_KEYS] = (request.session.get(ISSUED_KEYS, []) + [key])[-5:]
    return key


def _spend_key(request, key):
    if key is not None:
        request.session[SPENT_KEYS] = (request.session.get(SPENT_KEYS, []) + [str(key)])[-5:]


def _issued_key(request, key):
    """`key` if this session was given it (a key from elsewhere must not reach someone else's order)."""
    return key if key is not None and str(key) in request.session.get(ISSUED_KEYS, []) else None


def _order_for_resubmitted_form(request):
    """The order this checkout form already placed: its one-time key issued to this session, or to the
    session this browser had before the order cycled it."""
    try:
        key = uuid.UUID(request.POST.get("idempotency_key", ""))
    except ValueError:
        return None
    if _issued_key(request, key):
        return Order.objects.filter(idempotency_key=key).first()
    old_session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    try:
        order_id = cache.get(f"checkout:cycled:{old_session}") if old_session else None
    except Exception:  # the cache is down: no mapping to follow
        order_id = None
    return Order.objects.filter(id=order_id, idempotency_key=key).first() if order_id else None


LAST_ORDER_MINUTES = 30  # the thank-you page is for the shopper who just ordered, not the next user of a shared PC


def _thank_you(request, order):
    """The thank-you page, as the checkout POST's own answer: one round trip, not a redirect and a second
    request. The page's address becomes /orders/created/ (static/js/shop.js replaces the history entry), so a
    reload or a return to it asks for that page again; without the script, a reload sends the form again,
    and its one-time key leads back to this very order (see order_create), never to a second one.

    The page is for the shopper who just ordered: a form sent again later than LAST_ORDER_MINUTES after its
    order (from a shared computer's history, say) is told the order exists, and shown nothing of it."""
    if timezone.now() - order.created >= timedelta(minutes=LAST_ORDER_MINUTES):
        messages.info(request, _("This order was placed already. Its confirmation email has the link to its page."))
        return redirect("shop:product_list")
    _remember_last_order(request, order)
    # The lines in hand were placed by this very request: nothing can be paid yet.
    just_placed = getattr(order, "loaded_items", None) is not None
    return render(request, "orders/order/created.html", _order_context(request, order, just_placed=just_placed))


def _remember_last_order(request, order):
    """The order whose thank-you page this session may ask for again (until LAST_ORDER_MINUTES after it)."""
    request.session[LAST_ORDER_KEY] = {"token": str(order.token), "at": order.created.timestamp()}


@never_cache
@require_safe
def thank_you(request):
    """The thank-you page asked for again (a reload of /orders/created/), for a short while after the order."""
    last = request.session.get(LAST_ORDER_KEY)
    fresh = isinstance(last, dict) and timezone.now().timestamp() - float(last.get("at", 0)) < LAST_ORDER_MINUTES * 60
    order = Order.objects.filter(token=last.get("token")).first() if fresh else None
    if order is None:
        return redirect("shop:product_list")
    return render(request, "orders/order/created.html", _order_context(request, order))


@never_cache  # private: it shows the customer's address
@require_safe
def order_detail(request, token):
    order = get_object_or_404(Order, token=token)
    confirmation = order.emails.filter(kind="confirmation").first()
    context = {**_order_context(request, order), "confirmation": confirmation}
    return render(request, "orders/order/detail.html", context)


def _order_context(request, order, *, just_placed=False):
    items = getattr(order, "loaded_items", None)  # the lines just placed, with their products
    return {
        "order": order,
        "items": items if items is not None else list(order.items.select_related("product")),
        "panels": pages.panels(request, order, just_placed=just_placed),
    }
