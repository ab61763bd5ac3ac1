"""A form posted to an address without a language prefix (a tab opened before the shop spoke two languages):
the redirect to the prefixed address must keep the method and the form, not turn the POST into a GET that
answers 405 and loses what the shopper sent."""

from decimal import Decimal

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _no_language_left_active():
    yield
    translation.deactivate()


def test_an_unprefixed_add_to_cart_post_is_redirected_as_a_post_and_adds(client, make_product):
    lamp = make_product(name="Lamp", price=Decimal("10.00"))
    response = client.post(f"/cart/add/{lamp.id}/", {"quantity": 2}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 307 and response["Location"] == f"/de/cart/add/{lamp.id}/"
    assert response["Vary"] == "Accept-Language, Cookie"  # as the GET's redirect: no cache serves it to others
    response = client.post(response["Location"], {"quantity": 2})
    assert response.status_code == 302
    assert client.session["cart"][str(lamp.id)]["quantity"] == 2


def test_an_unprefixed_get_still_redirects_with_a_302(client):
    response = client.get("/cart/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 302 and response["Location"] == "/de/cart/"
