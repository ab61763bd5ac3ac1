"""The catalog in English and German (shop/translation.py): each page shows, sorts and searches the names of its
language, English where a German one is missing; the admin edits both; the worker's emails name the products in
the language they are rendered in."""

from decimal import Decimal
from unittest.mock import patch

import pytest
from django.urls import reverse
from django.utils import translation

from shop.models import Category, Product


def url(name, language, *args):
    with translation.override(language):
        return reverse(name, args=args)


def in_page_order(page, names):
    """`names` sorted by where the page shows them first (each one must be on it)."""
    assert all(name in page for name in names), [name for name in names if name not in page]
    return sorted(names, key=page.index)


@pytest.fixture
def three(make_category, make_product):
    """Two products with a German name, one without (its English one stands in), in one category; and another
    category, without a German name."""
    shelf = make_category(name_en="Shelf", name_de="Regal")
    make_product(category=make_category(name_en="Toys", slug="toys"), name_en="Yak bell")
    return [
        make_product(
            category=shelf,
            name_en="Alpine mug",
            name_de="Zinnbecher",
            description_en="Tin.",
            description_de="Aus Zinn.",
        ),
        make_product(category=shelf, name_en="Zinc kettle", name_de="Blechkessel"),
        make_product(category=shelf, name_en="Mango tea"),
    ]


def test_german_pages_show_and_sort_by_the_german_name_with_the_english_one_where_there_is_none(client, three):
    mug, kettle, tea = three
    # The product without a German name sorts by its English one, between the others in both languages.
    english, german = ["Alpine mug", "Mango tea", "Zinc kettle"], ["Blechkessel", "Mango tea", "Zinnbecher"]
    for list_url, args in (("shop:product_list", []), ("shop:product_list_by_category", [mug.category.slug])):
        page = client.get(url(list_url, "de", *args)).content.decode()
        assert in_page_order(page, german) == german and "Alpine mug" not in page
        page = client.get(url(list_url, "en", *args)).content.decode()
        assert in_page_order(page, english) == english and "Zinnbecher" not in page
    # The category navigation too: Regal, Toys (German); Shelf, Toys (English).
    for language in ("de", "en"):
        categories = client.get(url("shop:product_list", language)).context["categories"]
        assert [category.slug for category in categories] == [mug.category.slug, "toys"], language
    # By price, a tie is broken by the German name too.
    page = client.get(url("shop:product_list", "de"), {"sort": "price"}).content.decode()
    assert in_page_order(page, german) == german
    detail = client.get(url("shop:product_detail", "de", mug.id, mug.slug)).content.decode()
    assert "Zinnbecher" in detail and "Aus Zinn." in detail and "Regal" in detail and "Alpine mug" not in detail
    detail = client.get(url("shop:product_detail", "de", tea.id, tea.slug)).content.decode()
    assert "Mango tea" in detail  # the English name, for want of a German one


def test_a_product_is_found_by_its_german_or_english_words_on_either_page(client, make_product):
    make_product(
        name_en="Stoneware mug",
        name_de="Steinzeugbecher",
        description_en="Speckled white.",
        description_de="Gesprenkeltes Weiß.",
    )
    make_product(name_en="Kettle", name_de="Kessel")
    for language in ("en", "de"):
        for words in ("Steinzeugbecher", "stoneware", "gesprenkeltes", "speckled"):
            page = client.get(url("shop:product_list", language), {"q": words})
            assert [product.name_en for product in page.context["products"]] == ["Stoneware mug"], (language, words)


def test_the_admin_saves_both_languages_and_requires_only_the_english_name(admin_client, make_category):
    category = make_category()
    form = {
        "category": category.id,
        "slug": "lamp",
        "price": "9.00",
        "stock": "1",
        "vat_class": "standard",
        "available": "on",
        "description_en": "",
        "description_de": "",
    }
    response = admin_client.post(reverse("admin:shop_product_add"), {**form, "name_de": "Lampe"})
    assert response.status_code == 200 and "name_en" in response.context["adminform"].form.errors
    response = admin_client.post(
        reverse("admin:shop_product_add"),
        {**form, "name_en": "Lamp", "name_de": "Lampe", "description_en": "Bright.", "description_de": "Hell."},
    )
    assert response.status_code == 302
    lamp = Product.objects.get(slug="lamp")
    assert (lamp.name_en, lamp.name_de, lamp.description_en, lamp.description_de) == (
        "Lamp",
        "Lampe",
        "Bright.",
        "Hell.",
    )
    response = admin_client.post(reverse("admin:shop_category_add"), {"name_en": "Lights", "name_de": "", "slug": "l"})
    assert response.status_code == 302
    # An empty German name is no German name (NULL): German pages show and sort by the English one.
    assert Category.objects.values_list("name_en", "name_de").get(slug="l") == ("Lights", None)


def test_the_order_email_names_the_products_in_the_orders_language(make_product, customer):
    from orders import emails
    from orders.services import place_order
    from orders.tasks import load_order

    beans = make_product(name_en="Coffee beans", name_de="Kaffeebohnen", price=Decimal("5.00"))
    for language, name in (("de", "Kaffeebohnen"), ("en", "Coffee beans")):
        with patch("celery.app.task.Task.apply_async"):
            order = place_order(customer=customer, quantities={beans.id: 1}, language=language)
        with translation.override("en" if language == "de" else "de"):  # whatever the sender has active
            assert name in emails.message(load_order(order.id), emails.KINDS["confirmation"]).body
