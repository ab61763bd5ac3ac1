"""A Content-Security-Policy on every response, which the shop's pages and the admin work under."""

import re
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderItem
from orders.tasks import order_created

pytestmark = pytest.mark.any_database  # a response header


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event-handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def shop_pages(client, make_product, customer, django_capture_on_commit_callbacks):
    """Every page a shopper can see, with a cart and an order, as (name, response)."""
    product = make_product(name="Blue mug", price=Decimal("7.00"), stock=5)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    pages = [
        ("catalog", client.get(reverse("shop:product_list"))),
        ("category", client.get(product.category.get_absolute_url())),
        ("product", client.get(product.get_absolute_url())),
        ("cart", client.get(reverse("cart:cart_detail"))),
        ("checkout", client.get(reverse("orders:order_create"))),
        ("checkout with errors", client.post(reverse("orders:order_create"), {**customer, "email": "x"})),
    ]
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:order_create"), customer)
    pages += [
        ("thank you", client.get(reverse("orders:thank_you"))),
        ("status", client.get(Order.objects.get().get_absolute_url())),
        ("not found", client.get("/no-such-page/")),
        ("admin login", client.get(reverse("admin:login"))),
        (
            "bad charset",
            client.generic(
                "POST",
                reverse("cart:cart_detail"),
                b"a=1",
                content_type="application/x-www-form-urlencoded; charset=utf-16",
            ),
        ),
    ]
    with patch.object(CursorWrapper, "execute", side_effect=OperationalError("connection refused")):
        pages.append(("database down", Client(raise_request_exception=False).get(reverse("shop:product_list"))))
    return pages


def test_every_response_carries_a_policy_without_unsafe_inline_scripts(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    for name, response in shop_pages(client, make_product, customer, django_capture_on_commit_callbacks):
        policy = directives(response)
        assert policy["default-src"] == ["'self'"], name
        assert policy["script-src"] == ["'self'"], name
        assert "'unsafe-inline'" not in policy.get("style-src", []), name
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"], name


def test_pages_need_no_inline_script_or_style(client, make_product, customer, django_capture_on_commit_callbacks):
    for name, response in shop_pages(client, make_product, customer, django_capture_on_commit_callbacks):
        html = response.content.decode()
        found = [what for pattern, what in INLINE if pattern.search(html)]
        assert found == [], f"{name}: {found}"


def test_images_from_a_separate_media_host_are_allowed(settings, client, db):
    from core.middleware import content_security_policy

    settings.MEDIA_URL = "https://media.shop.example/uploads/"
    assert "https://media.shop.example" in content_security_policy().split("img-src", 1)[1].split(";")[0]


@pytest.mark.django_db(transaction=True)
def test_admin_change_list_works_under_the_policy(
    browser,
    live_server,
    django_user_model,
    customer,  # noqa: F811
    make_product,
):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "a long admin passphrase")
    product = make_product()
    for _ in range(2):
        OrderItem.objects.create(
            order=Order.objects.create(**customer), product=product, price=Decimal("7.00"), quantity=1
        )
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations, errors, policies = [], [], []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            policies.append(response.headers.get("content-security-policy"))
            if response.request.resource_type == "document"
            else None
        ),
    )
    page.expose_function("reportViolation", lambda text: violations.append(text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', "
        "e => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI))"
    )
    try:
        page.goto(reverse("admin:login"))
        page.fill("#id_username", "boss")
        page.fill("#id_password", "a long admin passphrase")
        page.click("input[type=submit]")
        page.goto(reverse("admin:orders_order_changelist"))
        page.wait_for_load_state("load")
        assert page.locator("#result_list tbody tr").count() == 2
        # actions.js runs: ticking "select all" selects every row and updates the counter.
        page.click("#action-toggle")
        assert page.locator("input.action-select:checked").count() == 2
        assert "2 of 2 selected" in page.locator(".action-counter").inner_text()
        page.goto(reverse("shop:product_list"))
        page.wait_for_load_state("load")
    finally:
        context.close()
    assert policies and all(policy and "script-src 'self'" in policy for policy in policies)
    assert violations == [] and errors == []
