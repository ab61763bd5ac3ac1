from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponseServerError
from django.shortcuts import get_object_or_404, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_safe

from cart.cart import Cart
from cart.forms import CartAddProductForm

from .lookups import product_on_sale
from .models import Category, Product


@require_safe
def product_list(request, category_slug=None):
    category = None
    products = Product.objects.filter(available=True)  # cards show no category: no join needed
    if category_slug:
        category = get_object_or_404(Category, slug=category_slug)
        products = products.filter(category=category)
    page = Paginator(products, settings.SHOP_PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    # The navigation lists a category once it has something to show (sold-out products are shown too).
    categories = Category.objects.filter(Exists(Product.objects.filter(category=OuterRef("pk"), available=True)))
    return render(
        request,
        "shop/product/list.html",
        {"category": category, "categories": categories, "page": page, "products": page.object_list},
    )


@require_safe
def product_detail(request, id, slug):
    product = product_on_sale(id, slug)
    if product is None:
        raise Http404("No product matches the given query.")
    cart = Cart(request.session)
    addable = cart.addable_quantity(product)
    refused = cart.pop_refused(product.id)
    form = CartAddProductForm(initial={"quantity": refused or 1}, max_quantity=addable)
    return render(
        request,
        "shop/product/detail.html",
        {
            "product": product,
            "cart_product_form": form,
            "addable": addable,
            "in_cart": cart.quantity_of(product.id),
        },
    )


def server_error(request):
    """500 page in the site's layout, built from settings alone: the database or session may be what failed."""
    context = {"shop_name": settings.SHOP_NAME, "shop_contact_email": settings.SHOP_CONTACT_EMAIL}
    return HttpResponseServerError(loader.get_template("500.html").render(context))


def csrf_failure(request, reason=""):
    """403 for a form whose CSRF check failed (an expired or missing cookie): say so, offer to try again.

    "Try again" leads back to the page the form was on, when the browser said which one and it is ours.
    """
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    retry_url = referer if referer and safe else reverse("cart:cart_detail")
    return render(request, "403_csrf.html", {"retry_url": retry_url}, status=403)
