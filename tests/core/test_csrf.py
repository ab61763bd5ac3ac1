"""One masked CSRF token per page (core/csrf.py), still changed when the secret is."""

import re

from django.middleware.csrf import rotate_token
from django.test import RequestFactory
from django.urls import reverse

from core.csrf import page_token


def test_a_request_gets_one_token_until_its_secret_changes():
    request = RequestFactory().get("/")
    first = page_token(request)
    assert page_token(request) == first

    rotate_token(request)  # as a login does
    assert page_token(request) != first


def test_the_thank_you_page_has_one_token_in_all_its_forms(client, make_product, customer):
    product = make_product()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    page = client.post(reverse("orders:order_create"), customer).content.decode()
    assert 'id="order-number"' in page

    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert len(tokens) >= 2 and len(set(tokens)) == 1, tokens
