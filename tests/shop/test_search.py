"""Finding products: search (full text on PostgreSQL, substrings on SQLite), sorting, the category filter and
the links that keep them, and what odd input gets."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from shop import search
from shop.models import Product

LIST = reverse("shop:product_list")


def names(response):
    return [product.name for product in response.context["products"]]


def test_search_finds_products_by_name_and_by_description(client, make_product):
    make_product(name="Blue mug", description="Holds a large tea.")
    make_product(name="Hammer", description="For nails.")
    make_product(name="Hidden mug", available=False)
    assert names(client.get(LIST, {"q": "mug"})) == ["Blue mug"]  # available products only
    assert names(client.get(LIST, {"q": "TEA"})) == ["Blue mug"]
    assert names(client.get(LIST, {"q": "blue mug"})) == ["Blue mug"]


@pytest.mark.postgresql
def test_a_name_match_ranks_above_a_description_only_match(client, make_product):
    make_product(name="Cup", description="Tea, tea and more tea: a tea cup for tea lovers.")  # B, five times
    make_product(name="Green tea", description="Loose leaves.")  # A, once
    make_product(name="Kettle", description="Boils water.")
    assert names(client.get(LIST, {"q": "tea"})) == ["Green tea", "Cup"]


@pytest.mark.postgresql
def test_full_text_search_stems_words_and_takes_web_search_syntax(client, make_product):
    make_product(name="Watering can", description="Waters the garden.")
    make_product(name="Garden gnome", description="Guards the garden.")
    assert names(client.get(LIST, {"q": "watered"})) == ["Watering can"]  # English stemming
    assert names(client.get(LIST, {"q": "garden -gnome"})) == ["Watering can"]
    assert sorted(names(client.get(LIST, {"q": "gnome or watering"}))) == ["Garden gnome", "Watering can"]
    assert names(client.get(LIST, {"q": '"guards the garden"'})) == ["Garden gnome"]


@pytest.mark.postgresql
def test_the_stored_vector_follows_changes_made_without_save(client, make_product):
    product = make_product(name="Teapot")
    Product.objects.filter(id=product.id).update(name="Coffee pot", description="")
    assert names(client.get(LIST, {"q": "coffee"})) == ["Coffee pot"]
    assert names(client.get(LIST, {"q": "teapot"})) == []


def test_the_fallback_wants_every_word_and_puts_name_matches_first(client, make_product):
    """The substring search SQLite uses (forced here, so it runs on PostgreSQL as well)."""
    make_product(name="Mug", description="For green tea.")
    make_product(name="Green tea", description="Leaves.")
    make_product(name="Tea towel", description="Cotton.")
    make_product(name="Green tea, hidden", available=False)
    with patch.object(search, "full_text", return_value=False):
        assert names(client.get(LIST, {"q": "tea green"})) == ["Green tea", "Mug"]
        assert names(client.get(LIST, {"q": "TEA"})) == ["Green tea", "Tea towel", "Mug"]
        assert names(client.get(LIST, {"q": "100%"})) == []  # wildcards and regex characters are taken literally
        assert names(client.get(LIST, {"q": "(tea"})) == []


def test_the_fallback_finds_words_by_their_start_and_reads_quotes_as_a_shopper_means_them(client, make_product):
    make_product(name="Dripper", description="A steady pour.")
    make_product(name="Teapot", description="Glass.")
    make_product(name="Glass cups", description="Two.")
    make_product(name="Grüner Tee", description="Lose.")
    with patch.object(search, "full_text", return_value=False):
        assert names(client.get(LIST, {"q": "tea"})) == ["Teapot"]  # not "steady"
        assert names(client.get(LIST, {"q": '"glass cups"'})) == ["Glass cups"]
        assert names(client.get(LIST, {"q": "cups -"})) == ["Glass cups"]
        assert names(client.get(LIST, {"q": "GRÜNER"})) == ["Grüner Tee"]  # not only ASCII folds its case


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("name", ["Apple", "Banana", "Cherry"]),
        ("price", ["Banana", "Cherry", "Apple"]),
        ("-price", ["Apple", "Cherry", "Banana"]),
        ("newest", ["Cherry", "Apple", "Banana"]),
        ("bogus", ["Apple", "Banana", "Cherry"]),  # an unknown order falls back to the default
        ("relevance", ["Apple", "Banana", "Cherry"]),  # nothing to be relevant to without a search
        ("price\x00", ["Apple", "Banana", "Cherry"]),
    ],
)
def test_list_sorts_by_name_price_and_newest(client, make_product, sort, expected):
    now = timezone.now()
    for name, price, age in (("Banana", "1.00", 3), ("Apple", "9.00", 2), ("Cherry", "5.00", 1)):
        product = make_product(name=name, price=Decimal(price))
        Product.objects.filter(id=product.id).update(created=now - timedelta(days=age))
    response = client.get(LIST, {"sort": sort})
    assert response.status_code == 200 and names(response) == expected


def test_search_sorts_by_price_when_asked(client, make_product):
    make_product(name="Big teapot", price=Decimal("30.00"))
    make_product(name="Small teapot", price=Decimal("10.00"))
    make_product(name="Teapot lid", price=Decimal("3.00"))
    assert names(client.get(LIST, {"q": "teapot", "sort": "price"})) == ["Teapot lid", "Small teapot", "Big teapot"]
    assert names(client.get(LIST, {"q": "teapot", "sort": "-price"})) == ["Big teapot", "Small teapot", "Teapot lid"]


def links(html):
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]*)"', html)]


def query_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_category_search_and_sort_combine_and_every_link_keeps_them(client, make_product, make_category, settings):
    settings.SHOP_PRODUCTS_PER_PAGE = 2
    kitchen, garden = make_category(name="Kitchen", slug="kitchen"), make_category(name="Garden", slug="garden")
    for i, price in enumerate(("4.00", "2.00", "3.00", "1.00")):
        make_product(name=f"Tea thing {i}", price=Decimal(price), category=kitchen)
    make_product(name="Tea garden chair", category=garden)
    make_product(name="Kitchen scale", category=kitchen)

    response = client.get(kitchen.get_absolute_url(), {"q": "tea", "sort": "price"})
    assert names(response) == ["Tea thing 3", "Tea thing 1"]
    page = response.content.decode()
    assert "Results for “tea” in Kitchen" in page
    [next_link] = [a for a in links(page) if "page=2" in a]
    assert next_link.startswith("?") and query_of(next_link) == {"q": "tea", "sort": "price", "page": "2"}
    second = client.get(kitchen.get_absolute_url() + next_link)
    assert names(second) == ["Tea thing 2", "Tea thing 0"]
    # The category links keep the search and the sort, and start at page 1.
    garden_link = next(a for a in links(second.content.decode()) if a.startswith(garden.get_absolute_url()))
    assert query_of(garden_link) == {"q": "tea", "sort": "price"}
    assert names(client.get(garden_link)) == ["Tea garden chair"]


def test_empty_query_shows_the_list(client, make_product):
    make_product(name="Teapot")
    for query in ("", "   "):
        response = client.get(LIST, {"q": query})
        assert response.status_code == 200 and names(response) == ["Teapot"]
        assert "<h1>All products</h1>" in response.content.decode()


def test_no_results_says_so_and_offers_a_way_out(client, make_product, make_category):
    kitchen = make_category(name="Kitchen", slug="kitchen")
    make_product(name="Teapot", category=kitchen)
    make_product(name="Garden gnome")
    response = client.get(kitchen.get_absolute_url(), {"q": "gnome", "sort": "price"})
    page = response.content.decode()
    assert response.status_code == 200 and names(response) == []
    assert "No products in Kitchen match “gnome”." in page
    everywhere = next(a for a in links(page) if a.startswith(LIST + "?"))
    assert query_of(everywhere) == {"q": "gnome", "sort": "price"}
    assert names(client.get(everywhere)) == ["Garden gnome"]
    assert kitchen.get_absolute_url() + "?sort=price" in links(page)  # clears the search, keeps the order


@pytest.mark.parametrize(
    "page, expected",
    [
        ("2", ["Item 2", "Item 3"]),
        ("x", ["Item 0", "Item 1"]),
        ("99", ["Item 4"]),
        ("-1", ["Item 4"]),
        ("", None),
        ("2\x00", None),
        ("9" * 400, ["Item 4"]),
        ("9" * 5000, None),  # beyond what int() takes from a string
    ],
)
def test_bad_page_numbers_fall_back_to_a_real_page(client, make_product, settings, page, expected):
    settings.SHOP_PRODUCTS_PER_PAGE = 2
    for i in range(5):
        make_product(name=f"Item {i}")
    response = client.get(LIST, {"q": "item", "page": page})
    assert response.status_code == 200
    assert names(response) == (expected or ["Item 0", "Item 1"])


@pytest.mark.parametrize(
    "query",
    ['"unclosed', "tea & | ! <-> :* (", "-", "or", "the", "'; DROP TABLE shop_product; --", "\\", "日本語 ✓", "%_%"],
)
def test_odd_queries_get_an_answer_never_an_error(client, make_product, query):
    make_product(name="Teapot")
    response = client.get(LIST, {"q": query, "sort": "relevance"})
    assert response.status_code == 200
    assert "match “" in response.content.decode() or names(response)


@pytest.mark.parametrize(
    "query, message",
    [
        ("tea" * 3500, f"Search with at most {search.QUERY_MAX_LENGTH} characters."),
        ("tea\x00pot", "Null characters are not allowed."),
    ],
)
def test_overlong_or_nul_queries_are_refused_with_a_message(client, make_product, query, message):
    make_product(name="Teapot")
    response = client.get(LIST, {"q": query})
    page = response.content.decode()
    assert response.status_code == 400 and names(response) == []
    assert message in page and 'role="alert"' in page and "Clear the search" in page
    assert "<title>Error: Search" in page and "<h1>Search</h1>" in page


def test_every_page_has_a_labelled_search_box_in_its_header(client, make_product):
    product = make_product(name="Teapot")
    for url in (LIST, product.get_absolute_url(), reverse("cart:cart_detail")):
        page = client.get(url).content.decode()
        assert 'role="search"' in page and f'action="{LIST}"' in page
        assert '<label class="visually-hidden" for="site-search-q">Search products</label>' in page
    # On a results page the box shows what was searched for.
    assert 'name="q" value="teapot"' in client.get(LIST, {"q": "teapot"}).content.decode()


def test_results_pages_ask_search_engines_not_to_index_them(client, make_product):
    make_product(name="Teapot")
    noindex = '<meta name="robots" content="noindex">'
    assert noindex in client.get(LIST, {"q": "teapot"}).content.decode()
    assert noindex not in client.get(LIST).content.decode()
