from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from . import pages, search
from .forms import ProductSearchForm
from .lookups import product_on_sale
from .models import Category, Product


@require_safe
def product_list(request, category_slug=None):
    """The catalog, a category of it, or the products matching a search (`q`), in the order chosen (`sort`)."""
    category = None
    # Cards show no category and no description: no join, and neither the text nor the search vector is read.
    products = Product.objects.filter(available=True).defer("description", "search_vector")
    if category_slug:
        category = get_object_or_404(Category, slug=category_slug)
        products = products.filter(category=category)
    form = ProductSearchForm(request.GET)
    words = form.cleaned_data["q"] if form.is_valid() else ""
    sort = search.chosen_sort(request.GET.get("sort"), searching=bool(words))
    products = search.find(products, words, sort) if form.is_valid() else products.none()
    page = Paginator(products, settings.SHOP_PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    # The navigation lists a category once it has something to show (sold-out products are shown too).
    categories = Category.objects.filter(
        Exists(Product.objects.filter(category=OuterRef("pk"), available=True))
    ).order_by(search.sort_name())  # by the name shown: the German one, else the English one
    return render(
        request,
        "shop/product/list.html",
        {
            "category": category,
            "categories": categories,
            "page": page,
            "products": page.object_list,
            "search_form": form,
            "search_query": words,
            "sort_options": search.sort_options(sort, searching=bool(words)),
            "kept": search.kept_parameters(words, sort),
        },
        status=200 if form.is_valid() else 400,
    )


@require_safe
def product_detail(request, id, slug):
    product = product_on_sale(id, slug)
    if product is None:
        raise Http404("No product matches the given query.")
    sections = pages.product_sections(request, product)
    return render(request, "shop/product/detail.html", {"product": product, "sections": sections})
