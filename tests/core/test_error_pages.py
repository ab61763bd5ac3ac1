"""Error pages in the site's layout with a way back, as production (DEBUG off) shows them."""

import re
import sys

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from cart.cart import Cart
from core import views as core_views


def boom(request):
    raise RuntimeError("something broke")


@pytest.fixture
def with_failing_view(settings):
    from myshop import urls as shop_urls

    module = type(shop_urls)("error_page_test_urls")
    module.urlpatterns = [path("boom/", boom), *shop_urls.urlpatterns]
    module.handler500 = shop_urls.handler500
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    yield
    del sys.modules[module.__name__]


def assert_in_layout(html):
    assert 'class="site-header"' in html and 'href="/static/css/base.css"' in html
    assert re.search(r'<a class="button primary" href="/en/(cart/)?">', html), "no way back"


def test_404_is_a_shop_page_with_header_cart_and_a_way_back(client, make_product, settings):
    assert settings.DEBUG is False
    client.post(reverse("cart:cart_add", args=[make_product().id]), {"quantity": 2})
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404 and "<title>Page not found · myshop</title>" in html
    assert_in_layout(html)
    assert "2 items" in html  # the cart in the header, as on every page


def test_500_page_is_in_the_layout_and_needs_no_database_or_session(with_failing_view, make_product, db):
    client = Client(raise_request_exception=False)
    client.post(reverse("cart:cart_add", args=[make_product().id]), {"quantity": 1})
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in html
    assert_in_layout(html)
    assert ">myshop</a>" in html and "cart-summary" not in html
    request = RequestFactory().get("/boom/")  # no session, no user: what a failing middleware may leave
    with CaptureQueriesContext(connection) as queries:
        response = core_views.server_error(request)
    assert response.status_code == 500 and len(queries) == 0


def test_expired_csrf_cookie_gets_a_try_again_page_and_keeps_the_cart(make_product, customer, settings):
    client = Client(enforce_csrf_checks=True)
    product = make_product(name="Blue mug")
    page = client.get(product.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1, "csrfmiddlewaretoken": token})
    assert Cart(client.session).quantities() == {product.id: 1}

    del client.cookies[settings.CSRF_COOKIE_NAME]  # the cookie expired (or the browser dropped it)
    checkout = "http://testserver" + reverse("orders:order_create")
    response = client.post(
        reverse("orders:order_create"), {**customer, "csrfmiddlewaretoken": token}, HTTP_REFERER=checkout
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "Your session expired, please try again." in html
    assert f'<a class="button primary" href="{checkout}">Try again</a>' in html
    assert "1 item" in html and Cart(client.session).quantities() == {product.id: 1}


def test_csrf_try_again_never_leads_to_another_site(make_product):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("cart:cart_add", args=[make_product().id]), {"quantity": 1}, HTTP_REFERER="https://evil.example/phish"
    )
    html = response.content.decode()
    assert response.status_code == 403 and "evil.example" not in html
    assert f'<a class="button primary" href="{reverse("cart:cart_detail")}">Try again</a>' in html


@pytest.mark.parametrize("rate, words", [("1/60", "1 minute"), ("1/600", "10 minutes"), ("1/45", "45 seconds")])
def test_429_page_states_the_wait_that_retry_after_gives(client, make_product, settings, rate, words):
    from django.core.cache import cache

    cache.clear()
    settings.RATE_LIMIT_CART = rate
    url = reverse("cart:cart_add", args=[make_product(stock=50).id])
    client.post(url, {"quantity": 1})
    response = client.post(url, {"quantity": 1})
    html = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"] == rate.split("/")[1]
    assert f"Please wait {words} and try again" in re.sub(r"\s+", " ", html)
    assert_in_layout(html)
    cache.clear()
