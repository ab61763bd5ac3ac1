"""Coupons: whether a code applies, what it takes off, and taking and giving back its uses (docs/coupons.md)."""

import re
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.money import CENT, ZERO, format_money, free_shipping_gap, shipping_cost, to_amount
from shop.templatetags.shop_text import local_datetime

from .models import CODE_CHARACTERS, CODE_MAX_LENGTH, Coupon, CustomerUse

CODE = re.compile(rf"{CODE_CHARACTERS}{{1,{CODE_MAX_LENGTH}}}")


class CouponError(Exception):
    """The code gives no discount; the message says why, for the shopper."""


def customer_key(*, account_id=None, mailbox=""):
    """Whom the per-customer cap counts: the account when logged in, else the order email's mailbox."""
    return f"account:{account_id}" if account_id else f"mailbox:{mailbox}"


def customer_keys(*, account_id=None, mailbox=""):
    """The keys an order's use counts under: its mailbox always, and its account when logged in, so that
    neither logging out nor another email gets a logged-in shopper past the per-customer cap."""
    return (f"mailbox:{mailbox}",) + ((customer_key(account_id=account_id),) if account_id else ())


def clean_code(raw):
    """The code as typed, trimmed; CouponError if it cannot be a code (too long, spaces, other characters)."""
    code = raw.strip() if isinstance(raw, str) else ""
    if not code:
        raise CouponError(_("Enter a coupon code."))
    if not CODE.fullmatch(code):
        raise CouponError(
            _("That is not a coupon code: codes have at most %(length)s letters, digits and dashes, without spaces.")
            % {"length": CODE_MAX_LENGTH}
        )
    return code


def find(raw):
    """The coupon with this code, whatever its case; CouponError if there is none."""
    code = clean_code(raw)
    coupon = Coupon.objects.filter(code__iexact=code).first()
    if coupon is None:
        raise CouponError(_("There is no coupon “%(code)s”. Check the code and try again.") % {"code": code})
    return coupon


def discount_for(coupon, goods):
    """What `coupon` takes off goods worth `goods`: never more than the goods, rounded to cents."""
    if coupon.kind == Coupon.Kind.PERCENT:
        off = to_amount(goods * coupon.value / 100)
    else:
        off = to_amount(coupon.value)
    return min(off, to_amount(goods))


def shipping_after(goods, discount):
    """Shipping for goods worth `goods` less `discount`: free shipping counts the goods after the discount.
    Goods discounted to nothing still ship (at the flat rate, below the free-shipping threshold)."""
    if not goods:
        return ZERO
    return shipping_cost(max(goods - discount, CENT))


def _when(moment):
    return local_datetime(moment)


def rule_problem(coupon, *, goods, now=None, applying=False):
    """Why `coupon` gives no discount on goods worth `goods` now (caps aside), or "". `applying`: the shopper
    is typing the code, which is not kept when refused, so a short cart is told to apply it again."""
    now = now or timezone.now()
    if not coupon.active:
        return _("The coupon %(code)s is not active.") % {"code": coupon.code}
    if now < coupon.valid_from:
        return _("The coupon %(code)s is not valid yet: it can be used from %(start)s.") % {
            "code": coupon.code,
            "start": _when(coupon.valid_from),
        }
    if now >= coupon.valid_to:
        return _("The coupon %(code)s has expired (it was valid until %(end)s).") % {
            "code": coupon.code,
            "end": _when(coupon.valid_to),
        }
    if goods < coupon.minimum_order:
        words = {
            "code": coupon.code,
            "minimum": format_money(coupon.minimum_order),
            "missing": format_money(coupon.minimum_order - goods),
        }
        if applying:
            return (
                _(
                    "The coupon %(code)s needs goods worth at least %(minimum)s: add %(missing)s more, then apply "
                    "the code again."
                )
                % words
            )
        return _("The coupon %(code)s needs goods worth at least %(minimum)s: add %(missing)s more to use it.") % words
    return ""


def _used_up(coupon):
    return _("The coupon %(code)s has been used up.") % {"code": coupon.code}


def _used_by_customer(coupon):
    times = coupon.max_uses_per_customer
    if times == 1:
        return _("You have already used the coupon %(code)s: it can be used once per customer.") % {"code": coupon.code}
    return _("You have already used the coupon %(code)s %(times)s times, as often as it can be used per customer.") % {
        "code": coupon.code,
        "times": times,
    }


def cap_problem(coupon, *, customer=None):
    """Why `coupon`'s caps stop one more use by `customer` (a customer_key, None if unknown yet), or "".
    A reading for the cart page only: placing the order takes the use atomically (redeem)."""
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        return _used_up(coupon)
    cap = coupon.max_uses_per_customer
    if customer and cap is not None:
        used = CustomerUse.objects.filter(coupon=coupon, customer_key=customer).values_list("uses", flat=True).first()
        if (used or 0) >= cap:
            return _used_by_customer(coupon)
    return ""


@dataclass(frozen=True)
class Quote:
    """The money of goods worth `goods` with the remembered `code` (as the cart and checkout show it):
    `discount` is 0 when the code gives none, and `problem` says why."""

    code: str
    goods: Decimal
    discount: Decimal = ZERO
    problem: str = ""
    coupon: Coupon | None = None

    @property
    def discounted_goods(self):
        return self.goods - self.discount

    @property
    def shipping(self):
        return shipping_after(self.goods, self.discount)

    @property
    def total(self):
        return self.goods - self.discount + self.shipping

    @property
    def free_shipping_gap(self):
        """How much more in goods (at catalog prices) would ship free, the discount on them counted; None if
        never (see shop.money.free_shipping_gap)."""
        gap = free_shipping_gap(self.discounted_goods)
        if not gap or not self.discount:
            return gap
        coupon, threshold = self.coupon, settings.SHOP_FREE_SHIPPING_FROM
        if coupon.kind == Coupon.Kind.PERCENT:
            if coupon.value >= 100:
                return None
            needed = (threshold * 100 / (100 - coupon.value)).quantize(CENT, rounding=ROUND_UP)
        else:
            needed = threshold + coupon.value
        while needed - discount_for(coupon, needed) < threshold:  # the discount's rounding: a cent or so more
            needed += CENT
        return max(ZERO, needed - self.goods)


def quote(code, *, goods, customer=None, now=None, applying=False):
    """The Quote for goods worth `goods` with `code` ("" for none); `customer` (a customer_key) when known;
    `applying` when the shopper is typing it in (see rule_problem)."""
    if not code:
        return Quote(code="", goods=goods)
    try:
        coupon = find(code)
    except CouponError as error:
        return Quote(code=code, goods=goods, problem=str(error))
    problem = rule_problem(coupon, goods=goods, now=now, applying=applying) or cap_problem(coupon, customer=customer)
    if problem:
        return Quote(code=coupon.code, goods=goods, problem=problem, coupon=coupon)
    return Quote(code=coupon.code, goods=goods, discount=discount_for(coupon, goods), coupon=coupon)


def redeem(code, *, goods, customer, now=None):
    """Take one use of `code` for `customer` (a customer_key, or several: customer_keys, each counted under
    the cap) on goods worth `goods`; return the Quote.

    Call it inside the order's transaction: each cap is one conditional UPDATE (taken if a row changed),
    which holds when checkouts race, and an order that fails afterwards rolls the uses back with it.
    Raises CouponError if the coupon does not apply, or its total or per-customer cap is reached.
    """
    coupon = find(code)
    problem = rule_problem(coupon, goods=goods, now=now)
    if problem:
        raise CouponError(problem)
    now = now or timezone.now()
    usable = Coupon.objects.filter(id=coupon.id, active=True, valid_from__lte=now, valid_to__gt=now)
    if not usable.filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))).update(uses=F("uses") + 1):
        coupon.refresh_from_db()  # changed since it was read: say what stops it now
        raise CouponError(rule_problem(coupon, goods=goods, now=now) or _used_up(coupon))
    for key in (customer,) if isinstance(customer, str) else customer:
        CustomerUse.objects.bulk_create([CustomerUse(coupon=coupon, customer_key=key)], ignore_conflicts=True)
        mine = CustomerUse.objects.filter(coupon=coupon, customer_key=key)
        if coupon.max_uses_per_customer is not None:
            mine = mine.filter(uses__lt=coupon.max_uses_per_customer)
        if not mine.update(uses=F("uses") + 1):
            raise CouponError(_used_by_customer(coupon))
    coupon.refresh_from_db(fields=["uses"])
    return Quote(code=coupon.code, goods=goods, discount=discount_for(coupon, goods), coupon=coupon)


def give_back(uses):
    """Give back one use per (coupon id, customer) in `uses` (`customer` as redeem takes it): their orders
    were cancelled unpaid. The caller makes sure that each order gives back once (orders.services.change_status)."""
    for coupon_id, customer in uses:
        Coupon.objects.filter(id=coupon_id, uses__gt=0).update(uses=F("uses") - 1)
        keys = (customer,) if isinstance(customer, str) else customer
        CustomerUse.objects.filter(coupon_id=coupon_id, customer_key__in=keys, uses__gt=0).update(uses=F("uses") - 1)
