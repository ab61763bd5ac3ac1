"""A customer's pages: order history (own and verified-guest orders), reorder, saved addresses, and the
checkout prefilled and linked to the account."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Address
from cart.cart import Cart
from orders.models import Order
from orders.services import place_order
from shop.stock import count
from testkit.accounts import make_customer


@pytest.fixture
def ada(db):
    return make_customer("ada@example.com")


@pytest.fixture
def ada_client(ada):
    client = Client()
    client.force_login(ada)
    return client


def order_for(customer, products, *, email, account=None):
    return place_order(
        customer={**customer, "email": email}, quantities={p.id: 1 for p in products}, customer_account=account
    )


def test_history_shows_own_and_verified_guest_orders_and_nothing_else(ada, ada_client, make_product, customer):
    from allauth.account.models import EmailAddress

    product = make_product(stock=50)
    EmailAddress.objects.create(user=ada, email="ada.old@example.com", verified=False)
    bob = make_customer("bob@example.com")
    own = order_for(customer, [product], email="someone@example.com", account=ada)
    guest = order_for(customer, [product], email="ADA@Example.com")  # the same address, as a guest
    # Not "ada+shop@": a tag folds into one mailbox for the daily cap, but whoever verified ada@ need not be
    # who reads ada+shop@ (and the other way round) where the provider has no tags.
    tagged = order_for(customer, [product], email="ada+shop@example.com")
    unverified = order_for(customer, [product], email="ada.old@example.com")
    bobs = order_for(customer, [product], email="bob@example.com", account=bob)
    bobs_with_adas_address = order_for(customer, [product], email="ada@example.com", account=bob)
    stranger = order_for(customer, [product], email="eve@example.com")

    page = ada_client.get(reverse("accounts:orders"))
    assert page.status_code == 200
    assert {order.id for order in page.context["orders"]} == {own.id, guest.id}
    html = page.content.decode()
    for order in (own, guest):
        assert order.number in html and order.get_absolute_url() in html
    for order in (tagged, unverified, bobs, bobs_with_adas_address, stranger):
        assert order.number not in html


def test_a_verified_tagged_address_does_not_open_the_untagged_addresss_guest_orders(make_product, customer):
    untagged = order_for(customer, [make_product(stock=5)], email="ada@corp.example")
    client = Client()
    client.force_login(make_customer("ada+anything@corp.example"))  # verified: whoever reads that mailbox
    assert untagged.number not in client.get(reverse("accounts:orders")).content.decode()


def test_history_links_the_invoice_when_there_is_one(ada, ada_client, make_product, customer):
    from django.utils import timezone

    from payments.models import Invoice

    order = order_for(customer, [make_product(stock=5)], email="ada@example.com", account=ada)
    html = ada_client.get(reverse("accounts:orders")).content.decode()
    assert reverse("payments:invoice_download", args=[order.token]) not in html
    Invoice.objects.create(order=order, year=2026, sequence=1, issued_at=timezone.now(), pdf_name="x.pdf")
    html = ada_client.get(reverse("accounts:orders")).content.decode()
    assert reverse("payments:invoice_download", args=[order.token]) in html and "2026-000001" in html


def test_the_customer_pages_need_a_log_in(db):
    for name in ("accounts:orders", "accounts:addresses", "accounts:address_add"):
        answer = Client().get(reverse(name))
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("account_login"))


def test_reorder_puts_what_can_be_bought_back_in_the_cart_and_says_what_could_not(
    ada, ada_client, make_product, customer
):
    mug, teapot, lamp = (make_product(name=n, stock=10) for n in ("Mug", "Teapot", "Lamp"))
    order = place_order(customer=customer, quantities={mug.id: 2, teapot.id: 3, lamp.id: 1}, customer_account=ada)
    count(product_id=teapot.id, counted=1, by=None)  # 1 left now
    lamp.available = False
    lamp.save()

    answer = ada_client.post(reverse("accounts:reorder", args=[order.number]), follow=True)
    cart = Cart(ada_client.session)
    assert cart.quantities() == {mug.id: 2, teapot.id: 1}
    notices = [str(message) for message in answer.context["messages"]]
    assert any("Mug" in n and "Teapot (1 of 3)" in n for n in notices)
    assert any("No longer available" in n and "Lamp" in n for n in notices)


def test_reorder_refuses_someone_elses_order_and_a_get(ada_client, make_product, customer):
    theirs = place_order(customer={**customer, "email": "eve@example.com"}, quantities={make_product().id: 1})
    assert ada_client.post(reverse("accounts:reorder", args=[theirs.number])).status_code == 404
    assert ada_client.get(reverse("accounts:reorder", args=[theirs.number])).status_code == 405
    assert not Cart(ada_client.session)


ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address": "12 Analytical Street",
    "address_line2": "",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "phone": "",
}


def test_addresses_are_added_edited_and_deleted_with_one_default(ada, ada_client):
    assert ada_client.post(reverse("accounts:address_add"), ADDRESS).status_code == 302
    first = Address.objects.get()
    assert first.is_default and first.country == "DE"  # the first is the default
    ada_client.post(reverse("accounts:address_add"), {**ADDRESS, "city": "Hamburg", "make_default": "on"})
    second = Address.objects.get(city="Hamburg")
    assert list(Address.objects.filter(is_default=True)) == [second]

    ada_client.post(reverse("accounts:address_edit", args=[first.id]), {**ADDRESS, "city": "Munich"})
    first.refresh_from_db()
    assert first.city == "Munich" and not first.is_default

    ada_client.post(reverse("accounts:address_delete", args=[second.id]))
    assert list(Address.objects.values_list("city", "is_default")) == [("Munich", True)]  # the default moved


def test_a_bad_address_is_refused_with_a_clear_error_and_nothing_saved(ada_client):
    answer = ada_client.post(reverse("accounts:address_add"), {**ADDRESS, "country": "US", "city": ""})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "Choose a country from the list: we ship only there" in html and "Enter your town or city" in html
    assert not Address.objects.exists()


def test_someone_elses_address_cannot_be_seen_changed_or_deleted(ada_client, db):
    eve = make_customer("eve@example.com")
    theirs = Address.objects.create(user=eve, **{**ADDRESS, "country": "DE"})
    assert ada_client.get(reverse("accounts:address_edit", args=[theirs.id])).status_code == 404
    assert ada_client.post(reverse("accounts:address_edit", args=[theirs.id]), ADDRESS).status_code == 404
    assert ada_client.post(reverse("accounts:address_delete", args=[theirs.id])).status_code == 404
    assert Address.objects.get().city == "Berlin"


def test_checkout_is_prefilled_from_the_default_address_and_the_order_is_linked(ada, ada_client, make_product):
    Address.objects.create(user=ada, is_default=True, **{**ADDRESS, "country": "DE", "city": "Potsdam"})
    product = make_product(price=Decimal("7.00"), stock=5)
    ada_client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    form = ada_client.get(reverse("orders:order_create")).context["form"]
    assert form.initial["city"] == "Potsdam" and form.initial["email"] == "ada@example.com"
    assert form.initial["idempotency_key"]

    data = {
        **ADDRESS,
        "city": "Potsdam",
        "email": "ada@example.com",
        "idempotency_key": form.initial["idempotency_key"],
    }
    assert ada_client.post(reverse("orders:order_create"), data).status_code == 200
    assert Order.objects.get().customer == ada


def test_a_guest_checkout_stays_and_links_no_one(db, make_product, customer):
    product = make_product(stock=5)
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    form = client.get(reverse("orders:order_create")).context["form"]
    assert "city" not in form.initial
    client.post(reverse("orders:order_create"), {**customer, "idempotency_key": form.initial["idempotency_key"]})
    assert Order.objects.get().customer is None


def test_a_saved_address_follows_the_checkouts_rules_so_the_checkout_accepts_it(ada_client):
    for bad, message in [
        ({"postal_code": "ABCDEFGHIJKLMNOP"}, "Enter a postal code for Germany, like 10115"),
        ({"address": "x"}, "Enter your street and house number, like 12 Main Street"),
        ({"city": "www.example.com/"}, "without web or email addresses"),
    ]:
        answer = ada_client.post(reverse("accounts:address_add"), {**ADDRESS, **bad})
        assert answer.status_code == 400 and message in answer.content.decode(), bad
    assert not Address.objects.exists()
    ada_client.post(reverse("accounts:address_add"), {**ADDRESS, "country": "NL", "postal_code": "1011ab"})
    assert Address.objects.get().postal_code == "1011 AB"  # written as the checkout writes it


def test_an_order_waiting_for_its_payment_offers_paying_it_not_reordering(ada, ada_client, make_product, customer):
    pending = order_for(customer, [make_product(stock=5)], email="x@example.com", account=ada)
    shipped = order_for(customer, [make_product(stock=5)], email="x@example.com", account=ada)
    Order.objects.filter(id=shipped.id).update(status=Order.Status.SHIPPED)
    html = ada_client.get(reverse("accounts:orders")).content.decode()
    assert f'href="{pending.get_absolute_url()}" aria-label="Pay now for order {pending.number}"' in html
    assert f"Reorder the items of order {pending.number}" not in html
    assert f"Reorder the items of order {shipped.number}" in html and f"Pay now for order {shipped.number}" not in html
