"""What pages tell browsers, search engines and link previews about themselves: the icon, a description,
OpenGraph tags on products, and the breadcrumb trail."""

import html
import io
import re
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from testkit.photos import png_bytes


def meta(page, attribute, name):
    """The decoded content of <meta {attribute}="{name}">, or None when the page has none."""
    found = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)">', page)
    return html.unescape(found.group(1)) if found else None


def breadcrumb(page):
    """[(label, link or None, current?)] of the page's breadcrumb trail."""
    nav = re.search(r'<nav class="breadcrumbs[^"]*" aria-label="Breadcrumb">(.*?)</nav>', page, re.S)
    if nav is None:
        return None
    return [
        (html.unescape(label), html.unescape(href) or None, current == "page")
        for href, current, label in re.findall(
            r'<li>(?:<a href="([^"]*)">|<span aria-current="(page)">)(.*?)</(?:a|span)></li>', nav.group(1)
        )
    ]


def test_favicon_ico_is_served_at_the_root_with_the_svg_linked_beside_it(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= icon.info["sizes"]
    page = client.get(reverse("shop:product_list")).content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert re.search(r'<link rel="icon" href="/static/img/favicon\.svg" type="image/svg\+xml">', page)
    with open(finders.find("img/favicon.svg"), encoding="utf-8") as svg:
        assert svg.read().startswith("<svg ")


def test_every_page_has_a_description_products_their_own_shortened(client, make_product, make_category, settings):
    category = make_category(name="Teapots", slug="teapots")
    words = "Cast iron keeps the tea hot for an hour.\n\nEnamelled inside, it never rusts " * 6
    product = make_product(category=category, name="Iron teapot", description=words)
    home = meta(client.get(reverse("shop:product_list")).content.decode(), "name", "description")
    assert settings.SHOP_NAME in home  # the shop's default
    assert meta(client.get(reverse("cart:cart_detail")).content.decode(), "name", "description") == home
    on_category = meta(client.get(category.get_absolute_url()).content.decode(), "name", "description")
    assert on_category.startswith("Teapots at ") and on_category != home
    on_product = meta(client.get(product.get_absolute_url()).content.decode(), "name", "description")
    assert on_product.startswith("Cast iron keeps the tea hot for an hour. Enamelled inside")
    assert len(on_product) <= 155 and on_product.endswith("…") and "\n" not in on_product
    bare = make_product(category=category, name="Plain cup", description="")
    assert meta(client.get(bare.get_absolute_url()).content.decode(), "name", "description") == "Plain cup"


def test_product_page_has_opengraph_tags_with_absolute_urls_and_escaped_text(client, make_product, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.ALLOWED_HOSTS = ["shop.example"]
    name = 'The "Big" <b>mug</b> & saucer'
    product = make_product(
        name=name,
        description='Holds 500 ml. Say "hello" <script>alert(1)</script>',
        price=Decimal("1234.50"),
        image=ContentFile(png_bytes((700, 700)), name="mug.png"),
    )
    response = client.get(product.get_absolute_url(), HTTP_HOST="shop.example")
    page = response.content.decode()
    assert "<b>mug" not in page and "<script>alert" not in page  # escaped everywhere, attributes too
    assert meta(page, "property", "og:type") == "product"
    assert meta(page, "property", "og:title") == name
    assert meta(page, "property", "og:description") == 'Holds 500 ml. Say "hello" <script>alert(1)</script>'
    assert meta(page, "property", "og:url") == f"http://shop.example{product.get_absolute_url()}"
    largest = product.image_renditions[-1]
    assert meta(page, "property", "og:image") == "http://shop.example" + product.image.storage.url(largest["name"])
    assert (meta(page, "property", "og:image:width"), largest["width"]) == ("700", 700)
    assert meta(page, "property", "product:price:amount") == "1234.50"
    assert meta(page, "property", "product:price:currency") == settings.SHOP_CURRENCY
    assert meta(page, "name", "description").startswith("Holds 500 ml.")


def test_product_without_a_photo_has_no_og_image_and_other_pages_no_opengraph(client, make_product):
    product = make_product(name="Plain")
    page = client.get(product.get_absolute_url()).content.decode()
    assert meta(page, "property", "og:title") == "Plain" and meta(page, "property", "og:image") is None
    assert "og:" not in client.get(reverse("shop:product_list")).content.decode()


def test_breadcrumbs_lead_home_through_the_category_to_this_page(client, make_product, make_category):
    category = make_category(name='Cups & "mugs"', slug="cups")
    product = make_product(category=category, name="Tall <mug>")
    home = reverse("shop:product_list")
    assert breadcrumb(client.get(product.get_absolute_url()).content.decode()) == [
        ("Home", home, False),
        ('Cups & "mugs"', category.get_absolute_url(), False),
        ("Tall <mug>", None, True),
    ]
    assert breadcrumb(client.get(category.get_absolute_url()).content.decode()) == [
        ("Home", home, False),
        ('Cups & "mugs"', None, True),
    ]
    assert breadcrumb(client.get(reverse("cart:cart_detail")).content.decode()) == [
        ("Home", home, False),
        ("Cart", None, True),
    ]
    assert breadcrumb(client.get(home).content.decode()) is None  # the home page is where the trail starts


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Short.", "Short."),
        ("  two\n\nlines  ", "two lines"),
        ("word " * 40, ("word " * 30).strip() + "…"),  # 200 characters: cut before the 155th, at a word
        ("A sentence ends. " + "x" * 200, "A sentence ends…"),
    ],
)
def test_meta_text_is_one_line_cut_at_a_word(text, expected):
    from shop.templatetags.page_meta import meta_text

    assert meta_text(text) == expected
