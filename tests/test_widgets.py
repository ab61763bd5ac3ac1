"""The inputs rendered in Python (myshop/widgets.py) give exactly the markup of Django's widget templates,
for every field of the shop's forms, blank, filled with hostile text, and with errors (aria attributes)."""

from unittest import mock

import pytest
from django import forms
from django.forms.renderers import get_default_renderer

from cart.forms import CartAddProductForm
from myshop import widgets
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


def template_rendered(bound_field):
    """The same field rendered through Django's widget templates (the render our inputs replace)."""
    with mock.patch.object(widgets.PythonRenderedInput, "render", forms.Widget.render):
        return str(bound_field)


FORMS = {
    "checkout, blank": lambda: OrderCreateForm(initial={"idempotency_key": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}),
    "checkout, hostile and invalid": lambda: OrderCreateForm(data=HOSTILE),
    "add to cart, blank": lambda: CartAddProductForm(initial={"quantity": 1}, max_quantity=5),
    "add to cart, refused": lambda: CartAddProductForm(data={"quantity": '0"><x'}, max_quantity=5),
}


@pytest.mark.parametrize("name", FORMS)
def test_each_input_renders_exactly_as_djangos_widget_templates_would(name):
    form = FORMS[name]()
    form.is_bound and form.is_valid()
    for bound_field in form:
        assert isinstance(bound_field.field.widget, widgets.PythonRenderedInput), bound_field.name
        assert str(bound_field) == template_rendered(bound_field), bound_field.name


def test_boolean_attributes_follow_the_template_rules():
    widget = widgets.TextInput(attrs={"required": True, "disabled": False, "data-x": 'a"b'})
    plain = forms.TextInput(attrs={"required": True, "disabled": False, "data-x": 'a"b'})
    renderer = get_default_renderer()
    assert widget.render("n", "v<", renderer=renderer) == plain.render("n", "v<", renderer=renderer)
    assert widget.render("n", None) == '<input type="text" name="n" required data-x="a&quot;b">'


@pytest.mark.django_db
def test_the_pages_label_each_field_as_djangos_label_tag_would(client, make_product):
    product = make_product(stock=5)
    product_page = client.get(product.get_absolute_url()).content.decode()
    quantity = CartAddProductForm(initial={"quantity": 1}, max_quantity=5)["quantity"]
    assert str(quantity.label_tag()) in product_page and str(quantity) in product_page
    client.post(f"/cart/add/{product.id}/", {"quantity": 1})
    checkout_page = client.get("/orders/create/").content.decode()
    for field in OrderCreateForm().visible_fields():
        assert str(field.label_tag()) in checkout_page, field.name
