"""A customer's own pages: order history (with reorder) and saved addresses. All need a log-in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import addresses, services
from .forms import AddressForm
from .models import Address

ORDERS_PER_PAGE = 20


@never_cache
@login_required
@require_safe
def order_history(request):
    orders = services.orders_of(request.user).select_related("invoice").order_by("-created", "-id")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/orders.html", {"page": page, "orders": page.object_list})


@login_required
@require_POST
def reorder(request, number):
    order = get_object_or_404(services.orders_of(request.user), number=number)
    added, short, unavailable = services.reorder(session=request.session, order=order)
    if added or short:
        messages.success(request, _("Added to your cart: %(products)s.") % {"products": ", ".join(added + short)})
    if short:
        messages.warning(request, _("Some items have too little stock left: fewer were added, as shown."))
    if unavailable:
        messages.warning(
            request, _("No longer available, not added: %(products)s.") % {"products": ", ".join(unavailable)}
        )
    return redirect("cart:cart_detail")


@never_cache
@login_required
@require_safe
def address_list(request):
    return render(request, "accounts/addresses.html", {"addresses": request.user.addresses.all()})


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_edit(request, address_id=None):
    address = get_object_or_404(Address, id=address_id, user=request.user) if address_id else Address(user=request.user)
    form = AddressForm(request.POST or None, instance=address, initial={"make_default": address.is_default})
    if request.method == "POST" and form.is_valid():
        addresses.save(form.save(commit=False), make_default=form.cleaned_data["make_default"])
        messages.success(request, _("Address saved."))
        return redirect("accounts:addresses")
    status = 400 if form.errors else 200
    return render(request, "accounts/address_form.html", {"form": form, "address": address}, status=status)


@login_required
@require_POST
def address_delete(request, address_id):
    addresses.delete(get_object_or_404(Address, id=address_id, user=request.user))
    messages.info(request, _("Address deleted."))
    return redirect("accounts:addresses")
