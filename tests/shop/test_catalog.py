from decimal import Decimal

import pytest
from django.urls import reverse

from shop.models import Category, Product
from shop.money import format_money


def test_product_list_shows_only_available_products(client, make_product):
    make_product(name="Visible kettle")
    make_product(name="Hidden kettle", available=False)
    page = client.get(reverse("shop:product_list")).content.decode()
    assert "Visible kettle" in page and "Hidden kettle" not in page


def test_product_list_by_category_filters(client, make_product, make_category):
    tea = make_category(name="Tea", slug="tea")
    make_product(name="Green tea", category=tea)
    make_product(name="Hammer")
    response = client.get(reverse("shop:product_list_by_category", args=["tea"]))
    page = response.content.decode()
    assert response.status_code == 200 and "Green tea" in page and "Hammer" not in page


def test_unknown_category_is_404(client, db):
    assert client.get(reverse("shop:product_list_by_category", args=["nope"])).status_code == 404


def test_product_list_is_paginated(client, make_product, settings):
    settings.SHOP_PRODUCTS_PER_PAGE = 3
    for i in range(7):
        make_product(name=f"Item {i:02d}")
    first = client.get(reverse("shop:product_list"))
    assert len(first.context["products"]) == 3 and first.context["page"].paginator.num_pages == 3
    last = client.get(reverse("shop:product_list"), {"page": 3})
    assert [p.name for p in last.context["products"]] == ["Item 06"]
    # Nonsense page numbers fall back to a real page instead of failing.
    assert client.get(reverse("shop:product_list"), {"page": "x"}).status_code == 200


def test_product_detail_has_add_to_cart_form_and_placeholder_image(client, make_product):
    product = make_product(name="Teapot", price=Decimal("19.90"))
    page = client.get(product.get_absolute_url()).content.decode()
    assert "Teapot" in page and "€19.90" in page
    assert reverse("cart:cart_add", args=[product.id]) in page
    assert "img/no-image.svg" in page


def test_unavailable_product_detail_is_404(client, make_product):
    product = make_product(available=False)
    assert client.get(product.get_absolute_url()).status_code == 404


def test_money_formatting():
    assert format_money(Decimal("1234.5")) == "€1,234.50"
    assert format_money(Decimal("0.005")) == "€0.01"
    assert format_money("junk") == ""


@pytest.mark.parametrize(
    "amount", ["0", "0.5", "999.99", "1000", "12345.678", "1234567.89", "-1234.5", "100000000000.01", "-0.004"]
)
def test_money_has_the_thousands_separators_of_djangos_intcomma(amount):
    from django.contrib.humanize.templatetags.humanize import intcomma

    value = Decimal(amount).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    expected = ("-" if value < 0 else "") + "€" + intcomma(f"{abs(value):.2f}", use_l10n=False)
    assert format_money(Decimal(amount)) == expected


@pytest.mark.parametrize("url_name", ["admin:shop_product_changelist", "admin:shop_category_changelist"])
def test_catalog_admin_pages_render(admin_client, make_product, url_name):
    make_product()
    assert admin_client.get(reverse(url_name)).status_code == 200


def test_product_admin_edits_price_and_availability_from_the_list_but_never_stock(db):
    from django.contrib.admin.sites import site

    model_admin = site._registry[Product]
    assert set(model_admin.list_editable) == {"price", "available"}  # stock moves by recorded deltas only
    # One slug per product, from the English name (the default language), whichever language the admin is in.
    assert model_admin.prepopulated_fields == {"slug": ("name_en",)}
    assert site._registry[Category].prepopulated_fields == {"slug": ("name_en",)}


def test_uploaded_product_image_is_shown_instead_of_the_placeholder(client, make_product, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(picture, "PNG")
    product = make_product(name="Teal mug", image=SimpleUploadedFile("mug.png", picture.getvalue(), "image/png"))
    [copy] = product.image_renditions  # a 4 px picture: one copy, at its own size (see test_images)
    copy_url = product.image.storage.url(copy["name"])
    for page in (client.get(reverse("shop:product_list")), client.get(product.get_absolute_url())):
        html = page.content.decode()
        assert copy_url in html and copy_url.startswith(settings.MEDIA_URL) and "no-image.svg" not in html
    assert (tmp_path / product.image.name).exists() and (tmp_path / copy["name"]).exists()
