"""A catalog of 10,000 products stays paginated and is served from its indexes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from shop import search
from shop.models import Category, Product

SIZE = 10_000


@pytest.fixture
def big_catalog(db):
    categories = Category.objects.bulk_create(Category(name=f"Category {i}", slug=f"category-{i}") for i in range(20))
    Product.objects.bulk_create(
        (
            Product(
                category=categories[i % 20],
                name=f"Product {i:05d}",
                slug=f"product-{i:05d}",
                price=i % 90 + 1,
                stock=5,
                available=i % 10 != 0,
            )
            for i in range(SIZE)
        ),
        batch_size=500,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return categories


def test_big_catalog_pages_hold_one_page_of_products(client, big_catalog, settings):
    settings.SHOP_PRODUCTS_PER_PAGE = 12
    first = client.get(reverse("shop:product_list"))
    assert first.status_code == 200 and len(first.context["products"]) == 12
    pages = first.context["page"].paginator.num_pages
    assert pages == -(-SIZE * 9 // 10 // 12)
    with CaptureQueriesContext(connection) as page_one:
        client.get(reverse("shop:product_list"))
    with CaptureQueriesContext(connection) as last_page:
        last = client.get(reverse("shop:product_list"), {"page": pages})
    assert len(last.context["products"]) >= 1 and len(last_page) == len(page_one)
    category = client.get(big_catalog[3].get_absolute_url())
    assert category.status_code == 200 and len(category.context["products"]) == 12


def plan(queryset):
    return queryset.explain()


@pytest.mark.postgresql  # query plans are checked on the production database
def test_list_queries_use_the_catalog_indexes_on_postgresql(big_catalog):
    for language, suffix in (("en", ""), ("de", "_de")):  # German pages sort by the German name, else the English
        with translation.override(language):
            page = Product.objects.filter(available=True).order_by(search.sort_name(), "id")[:12]
            by_category = Product.objects.filter(available=True, category=big_catalog[3])
            page_plan, category_plan = plan(page), plan(by_category.order_by(search.sort_name(), "id")[:12])
        assert f"product_available_name{suffix}_idx" in page_plan
        assert f"product_cat_avail_name{suffix}_idx" in category_plan
        assert "Sort" not in category_plan  # the index delivers the page in order


def test_slugs_are_indexed():
    assert Product._meta.get_field("slug").unique and Category._meta.get_field("slug").unique
