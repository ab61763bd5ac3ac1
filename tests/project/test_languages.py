"""Which language a shopper gets: the browser's on a first visit, the one chosen with the switch after that; every
shop page says its language and links to itself in the other; what machines and operators call has no prefix."""

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse, translate_url
from django.utils import translation

pytestmark = pytest.mark.django_db

GERMAN_BROWSER = "de-DE,de;q=0.9"


@pytest.mark.parametrize(
    ("browser", "language"),
    [(GERMAN_BROWSER, "de"), ("en-US,en;q=0.9", "en"), ("fr-FR,fr;q=0.9", "en"), (None, "en")],
)
def test_a_first_visit_goes_to_the_browsers_language_else_english(client, browser, language):
    headers = {"HTTP_ACCEPT_LANGUAGE": browser} if browser else {}

    response = client.get("/", **headers)

    assert response.status_code == 302 and response["Location"] == f"/{language}/"


def test_the_switch_keeps_the_page_and_is_remembered_over_the_browsers_language(client):
    response = client.post(
        "/i18n/setlang/", {"language": "de", "next": "/en/cart/"}, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"
    )

    assert response.status_code == 302 and response["Location"] == "/de/cart/"
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")["Location"] == "/de/"
    assert client.get("/cart/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")["Location"] == "/de/cart/"


@pytest.mark.parametrize(
    ("browser", "cookie", "page", "chosen", "expected"),
    [
        (GERMAN_BROWSER, None, "/en/cart/?step=1", "de", "/de/cart/?step=1"),  # an English link, a German browser
        ("en-US,en;q=0.9", "de", "/en/product/1/mug/", "de", "/de/product/1/mug/"),  # German chosen before
        (GERMAN_BROWSER, "en", "/de/cart/", "en", "/en/cart/"),  # a German link, English chosen before
    ],
)
def test_the_switch_keeps_the_page_whatever_language_the_browser_or_cookie_says(
    client, settings, browser, cookie, page, chosen, expected
):
    if cookie:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie

    response = client.post("/i18n/setlang/", {"language": chosen, "next": page}, HTTP_ACCEPT_LANGUAGE=browser)

    assert response.status_code == 302 and response["Location"] == expected


def test_every_shop_page_names_its_language_links_both_and_offers_the_other(client, make_product):
    product = make_product()
    pages = [reverse("shop:product_list"), product.get_absolute_url(), reverse("cart:cart_detail")]
    pages.append(reverse("account_login"))
    for english in pages:
        for language, other in (("en", "de"), ("de", "en")):
            url = translate_url(english, language)
            assert url.startswith(f"/{language}/"), url
            page = client.get(url).content.decode()

            assert f'<html lang="{language}">' in page, url
            for code in ("en", "de"):
                link = f'<link rel="alternate" hreflang="{code}" href="http://testserver{translate_url(url, code)}">'
                assert link in page, (url, code)
            # x-default: the address without a prefix, which sends a visitor to their own language.
            default = f'<link rel="alternate" hreflang="x-default" href="http://testserver{url[len(language) + 1 :]}">'
            assert default in page, url
            switch = re.search(r'<form class="language-switch".*?</form>', page, re.DOTALL).group(0)
            assert re.search(rf'<button [^>]*name="language" value="{other}" lang="{other}"', switch), url
            assert f'value="{language}"' not in switch, url


def test_a_page_with_a_message_has_its_language_links_in_the_head_only(client, make_product):
    product = make_product()
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}, follow=True)
    page = response.content.decode()

    messages = re.search(r'<ul class="messages">.*?</ul>', page, re.DOTALL).group(0)
    assert "<link" not in messages
    assert page.count('hreflang="x-default"') == 1
    assert page.index('hreflang="x-default"') < page.index("</head>")


def test_webhooks_health_checks_and_the_admin_have_no_language_prefix(client, settings):
    settings.PAYMENT_PROVIDER = "offline"

    webhook = client.post("/payments/webhooks/offline/", b"not an event", content_type="application/json")
    assert webhook.status_code == 400 and "error" in webhook.json()  # the view answered, nothing redirected
    assert client.post("/en/payments/webhooks/offline/", b"{}", content_type="application/json").status_code == 404
    assert client.get("/healthz").status_code == 200
    admin = client.get(f"/{settings.ADMIN_URL}", HTTP_ACCEPT_LANGUAGE=GERMAN_BROWSER)
    assert admin.status_code == 302 and admin["Location"].startswith(f"/{settings.ADMIN_URL}login/")


@pytest.mark.parametrize(
    ("path", "english", "default"),
    [
        ("/de/cart/?q=mug", "/en/cart/?q=mug", "/cart/?q=mug"),
        ("/en/", "/en/", "/"),
        ("/nowhere", "/nowhere", "/nowhere"),
    ],
)
def test_the_tags_give_the_page_in_english_and_without_prefix_query_kept(path, english, default):
    language = path.split("/")[1] if path.startswith(("/en/", "/de/")) else "en"
    with translation.override(language):
        rendered = Template(
            "{% load languages %}{% page_languages as languages %}{{ languages.0.url }} {% page_default_url %}"
        ).render(Context({"request": RequestFactory().get(path)}))

    assert rendered == f"{english} {default}"
