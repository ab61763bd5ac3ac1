"""The coupon a shopper applied in the cart, kept in their session until the order is placed."""

from .services import customer_key, quote

SESSION_KEY = "coupon_code"


def remembered_code(session):
    """The code applied in this session ("" if none)."""
    code = session.get(SESSION_KEY)
    return code if isinstance(code, str) else ""


def remember(session, code):
    session[SESSION_KEY] = code


def forget(session):
    session.pop(SESSION_KEY, None)


def cart_quote(request, cart):
    """The Quote of this cart with the session's coupon, as the cart and checkout pages show it. The
    per-customer cap is read for a logged-in shopper; a guest's mailbox is known only at checkout."""
    user = getattr(request, "user", None)
    customer = customer_key(account_id=user.id) if user is not None and user.is_authenticated else None
    return quote(remembered_code(request.session), goods=cart.total(), customer=customer)
