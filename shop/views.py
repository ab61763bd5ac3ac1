from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from cart.forms import CartAddProductForm

from .models import Category, Product


@require_safe
def product_list(request, category_slug=None):
    category = None
    products = Product.objects.filter(available=True)  # cards show no category: no join needed
    if category_slug:
        category = get_object_or_404(Category, slug=category_slug)
        products = products.filter(category=category)
    page = Paginator(products, settings.SHOP_PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/product/list.html",
        {"category": category, "categories": Category.objects.all(), "page": page, "products": page.object_list},
    )


@require_safe
def product_detail(request, id, slug):
    product = get_object_or_404(Product.objects.select_related("category"), id=id, slug=slug, available=True)
    form = CartAddProductForm(max_quantity=product.stock)
    return render(request, "shop/product/detail.html", {"product": product, "cart_product_form": form})
