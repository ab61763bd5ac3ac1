"""The shop's own forms are rendered by Jinja2 (core/forms.py) from Django's widget templates: the same markup as
Django's template engine gives, for every field, blank, filled with hostile text, and with errors (aria
attributes)."""

import re

import pytest
from django.forms.renderers import DjangoTemplates

from cart.forms import CartAddProductForm
from core.forms import RENDERER
from orders.forms import OrderCreateForm

HOSTILE = {
    "first_name": 'Ada "<b>&amp;</b>"',
    "last_name": "O'Brien <script>",
    "email": "not an email",
    "address": "",
    "postal_code": "1&2",
    "city": "Köln ' \" >",
    "idempotency_key": 'x" onmouseover="y',
}
FORMS = {
    "checkout, blank": (OrderCreateForm, {"initial": {"idempotency_key": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}}),
    "checkout, hostile and invalid": (OrderCreateForm, {"data": HOSTILE}),
    "add to cart, blank": (CartAddProductForm, {"initial": {"quantity": 1}, "max_quantity": 5}),
    "add to cart, refused": (CartAddProductForm, {"data": {"quantity": '0"><x'}, "max_quantity": 5}),
}


def same_entities(html):
    """Markup with Jinja2's numeric entities for quotes written as Django writes them (the same characters)."""
    return html.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")


def without_blank_lines(html):
    """Django's engine leaves a blank line between a select's options, Jinja2 does not: the same markup."""
    return re.sub(r"\n\s*\n", "\n", html)


@pytest.mark.parametrize("name", FORMS)
def test_each_field_renders_as_djangos_own_templates_would(name):
    form_class, arguments = FORMS[name]
    shop, django = form_class(**arguments), form_class(**arguments, renderer=DjangoTemplates())
    assert shop.renderer is RENDERER
    for form in (shop, django):
        form.is_bound and form.is_valid()
    for field, same_field in zip(shop, django):
        assert without_blank_lines(same_entities(str(field))) == without_blank_lines(str(same_field)), field.name
        assert same_entities(str(field.errors)) == str(same_field.errors), field.name
        assert "<script" not in str(field) and '"<b>' not in str(field)
    if shop.is_bound:
        assert 'aria-invalid="true"' in str(shop["quantity" if "quantity" in shop.fields else "email"])


@pytest.mark.django_db
def test_the_pages_label_each_field_as_djangos_label_tag_would(client, make_product):
    product = make_product(stock=5)
    product_page = client.get(product.get_absolute_url()).content.decode()
    quantity = CartAddProductForm(initial={"quantity": 1}, max_quantity=5)["quantity"]
    assert str(quantity.label_tag()) in product_page and str(quantity) in product_page
    client.post(f"/en/cart/add/{product.id}/", {"quantity": 1})
    checkout_page = client.get("/en/orders/create/").content.decode()
    for field in OrderCreateForm().visible_fields():
        assert str(field.label_tag()) in checkout_page, field.name
