"""Finding products at scale: the search and list pages run the same number of queries whatever they find, and
at 10,000 products PostgreSQL answers a search from the search vector's GIN index."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from shop import search
from shop.models import Category, Product, StockMovement

WORDS = ["kettle", "teapot", "garden", "lamp", "chair", "basket", "candle", "blanket", "mirror", "rug"]


def page_queries(client, size, make_category, make_product):
    """{page: queries} for each search and list page, over a catalog where each search finds `size` products."""
    kitchen = make_category(name="Kitchen", slug=f"kitchen-{size}")
    for i in range(size):
        make_product(name=f"Teapot {size}-{i}", description="Holds tea.", category=kitchen, price=Decimal(i + 1))
    make_product(name=f"Lamp {size}")  # one that no search here finds
    pages = {
        "list": (reverse("shop:product_list"), {}),
        "list by price": (reverse("shop:product_list"), {"sort": "-price"}),
        "list, page 2": (reverse("shop:product_list"), {"page": "2"}),
        "category, newest": (kitchen.get_absolute_url(), {"sort": "newest"}),
        "search": (reverse("shop:product_list"), {"q": "teapot"}),
        "search by description": (reverse("shop:product_list"), {"q": "tea"}),
        "search in category by price, page 2": (
            kitchen.get_absolute_url(),
            {"q": "teapot", "sort": "price", "page": 2},
        ),
        "search finding nothing": (reverse("shop:product_list"), {"q": "nothing-like-it"}),
    }
    counts, language = {}, translation.get_language()  # the page_language fixture's
    for name, (url, params) in pages.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, params)
        assert response.status_code == 200 and response.wsgi_request.LANGUAGE_CODE == language, name
        counts[name] = len(captured)
    return counts


def test_search_and_list_pages_run_a_fixed_number_of_queries(
    client, make_category, make_product, settings, page_language
):
    settings.SHOP_PRODUCTS_PER_PAGE = 12
    few = page_queries(client, 1, make_category, make_product)
    StockMovement.objects.all().delete()
    Product.objects.all().delete()
    many = page_queries(client, 50, make_category, make_product)
    assert many == few, f"finding 1: {few}; finding 50: {many}"
    # Session, categories, count and page: no query per product shown.
    assert max(few.values()) <= 5, few


@pytest.fixture
def big_catalog(db):
    """10,000 products, 20 categories; each of WORDS in one product name in ten, "unicorn" in one name only."""
    categories = Category.objects.bulk_create(Category(name=f"Category {i}", slug=f"category-{i}") for i in range(20))
    Product.objects.bulk_create(
        (
            Product(
                category=categories[i % 20],
                name="Unicorn lamp" if i == 4242 else f"{WORDS[i % 10].title()} {i:05d}",
                slug=f"product-{i:05d}",
                description=f"A {WORDS[(i * 7) % 10]} that goes well with a {WORDS[(i * 3) % 10]}.",
                price=i % 90 + 1,
                stock=5,
                available=i % 10 != 1,
            )
            for i in range(10_000)
        ),
        batch_size=500,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load: move the index's pending entries into the index proper
            # (VACUUM cannot run inside the test's transaction).
            cursor.execute("SELECT gin_clean_pending_list('product_search_vector_idx')")
    return categories


@pytest.mark.postgresql  # query plans are checked on the production database
@pytest.mark.parametrize("words", ["unicorn", "kettle", "teapot lamp"])
def test_search_reads_the_search_vector_index_on_postgresql(big_catalog, words):
    found = search.find(Product.objects.filter(available=True), words, "relevance")
    assert found.exists()
    plan = found[:12].explain()
    assert "product_search_vector_idx" in plan, plan


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "sort, index",
    [("name", "product_available_name_idx"), ("price", "product_available_price_idx")]
    + [("-price", "product_available_price_idx"), ("newest", "product_available_created_idx")],
)
def test_sorted_catalog_pages_are_read_in_order_from_an_index_on_postgresql(big_catalog, sort, index):
    for language in ("en", "de"):  # German pages sort by the German name (else the English one): indexes of their own
        with translation.override(language):
            plan = search.find(Product.objects.filter(available=True), "", sort)[:12].explain()
        if sort == "-price":  # read backwards, by price alone (names then sorted in ties): any language's serves
            index = "product_available_price_"
        elif language != "en" and "name" in search.SORTS[sort][1]:
            index = index.replace("_idx", f"_{language}_idx")
        assert index in plan and "  Sort  " not in plan and not plan.startswith("Sort"), plan  # at most incremental
