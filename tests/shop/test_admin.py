"""The product list in the admin: its editable cells say which product they belong to."""

import re
from decimal import Decimal

from django.urls import reverse


def test_every_editable_cell_of_the_product_list_is_labelled_with_its_product(admin_client, make_product):
    make_product(name="Blue mug", price=Decimal("7.00"))
    make_product(name="Teapot", price=Decimal("20.50"), available=False)
    page = admin_client.get(reverse("admin:shop_product_changelist")).content.decode()
    inputs = re.findall(r'<input [^>]*name="form-\d+-(?:price|available)"[^>]*>', page)
    assert len(inputs) == 4
    labels = sorted(re.search(r'aria-label="([^"]*)"', tag).group(1) for tag in inputs)
    assert labels == ["Blue mug is available", "Price of Blue mug", "Price of Teapot", "Teapot is available"]


def test_a_products_page_shows_its_stock_but_offers_no_box_that_would_not_save_it(admin_client, make_product):
    """Stock moves by recorded movements only; a box for it would be ignored on saving (Product.save)."""
    lamp = make_product(name="Lamp", stock=5)
    page = admin_client.get(reverse("admin:shop_product_change", args=[lamp.id])).content.decode()
    assert 'name="name_de"' in page and 'name="description_en"' in page  # both languages' fields
    assert 'name="stock"' not in page and "5 units" in page
    add = admin_client.get(reverse("admin:shop_product_add")).content.decode()
    assert 'name="stock"' in add  # a new product's first stock
