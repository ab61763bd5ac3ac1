"""Bad and hostile input: a clear error or a 4xx, never a 500, never a half-written order."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from cart.cart import SESSION_KEY, Cart
from orders.models import Order, OrderEmail, OrderItem
from orders.tasks import order_created
from testkit.pages import thank_you_order

CHECKOUT = reverse("orders:order_create")


def add(client, product, quantity):
    return client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity}, follow=True)


def assert_nothing_ordered():
    assert not Order.objects.exists() and not OrderItem.objects.exists()


@pytest.mark.parametrize("quantity", ["0", "-1", "999999999999999999999", "1e3", "abc", "", " ", "2.5", "½"])
def test_bad_quantities_are_refused_with_a_message(client, make_product, quantity):
    product = make_product(stock=10)
    response = add(client, product, quantity)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == product.get_absolute_url()
    assert 'class="messages"' in response.content.decode()
    assert Cart(client.session).quantities() == {}


def test_missing_quantity_is_refused(client, make_product):
    product = make_product()
    response = client.post(reverse("cart:cart_add", args=[product.id]), {}, follow=True)
    assert "Enter a whole number from 1 to 20." in response.content.decode()  # the range, not just "required"
    assert Cart(client.session).quantities() == {}


def test_bad_quantity_on_update_keeps_the_line(client, make_product):
    product = make_product(stock=10)
    add(client, product, 2)
    response = client.post(reverse("cart:cart_update", args=[product.id]), {"quantity": "-5"}, follow=True)
    assert response.status_code == 200 and Cart(client.session).quantities() == {product.id: 2}


def test_unknown_and_unavailable_products(client, make_product):
    hidden = make_product(available=False)
    assert client.post(reverse("cart:cart_add", args=[hidden.id]), {"quantity": 1}).status_code == 404
    assert client.post(reverse("cart:cart_add", args=[10**12]), {"quantity": 1}).status_code == 404
    assert client.post(reverse("cart:cart_update", args=[10**12]), {"quantity": 1}).status_code == 302
    assert client.post(reverse("cart:cart_remove", args=[10**12])).status_code == 302
    assert client.get("/product/abc/def/").status_code == 404


@pytest.mark.parametrize(
    "tampered",
    [
        {"99999": {"quantity": 1}},
        {"1": {"quantity": "1; DROP TABLE"}},
        {"x": [1, 2]},
        "not a dict",
        {"1": {"quantity": 10**30}},
    ],
)
def test_cart_edited_behind_our_back_never_crashes_checkout(client, make_product, customer, tampered):
    make_product()
    session = client.session
    session[SESSION_KEY] = tampered
    session.save()
    for url in (reverse("cart:cart_detail"), CHECKOUT, reverse("shop:product_list")):
        assert client.get(url).status_code in (200, 302)
    response = client.post(CHECKOUT, customer)
    assert response.status_code in (302, 400)
    assert_nothing_ordered()


def test_repriced_product_is_announced_and_charged_at_the_current_price(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    lamp = make_product(name="Lamp", price=Decimal("10.00"))
    add(client, lamp, 2)
    lamp.price = Decimal("12.00")
    lamp.save()

    first = client.post(CHECKOUT, customer)  # the shopper had not seen the new price: no order yet
    page = first.content.decode()
    assert first.status_code == 400 and "changed from €10.00 to €12.00" in page and "€24.00" in page
    assert_nothing_ordered()

    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        second = client.post(CHECKOUT, customer)
    assert thank_you_order(second) == Order.objects.get()
    assert Order.objects.get().subtotal == Decimal("24.00")


def test_deleted_product_is_dropped_and_the_rest_can_be_ordered(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    kept, gone = make_product(name="Kept"), make_product(name="Gone")
    add(client, kept, 1)
    add(client, gone, 1)
    gone.stock_movements.all().delete()  # a product with no stock history may be deleted
    gone.delete()
    page = client.get(CHECKOUT).content.decode()
    assert "no longer sold and was removed" in page
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        assert thank_you_order(client.post(CHECKOUT, customer))
    assert [item.product_id for item in OrderItem.objects.all()] == [kept.id]


@pytest.mark.parametrize(
    "field, value",
    [
        ("first_name", "x" * 51),
        ("city", "y" * 101),
        ("address", "z" * 251),
        ("postal_code", "1" * 21),
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", "ada@example.com\r\nBcc: victim@example.com"),
        ("last_name", "Love\r\nlace"),
        ("city", "Ber\x00lin"),
        ("first_name", ""),
        ("first_name", "   "),
    ],
)
def test_invalid_checkout_fields_rerender_the_form_and_save_nothing(client, make_product, customer, field, value):
    add(client, make_product(), 1)
    response = client.post(CHECKOUT, {**customer, field: value})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert_nothing_ordered()
    assert Cart(client.session)  # the cart is kept


def test_unicode_and_markup_are_stored_as_typed_and_escaped_everywhere(
    client, admin_client, make_product, customer, django_capture_on_commit_callbacks, mailoutbox
):
    hostile = {
        **customer,
        "first_name": "<script>alert(1)</script>",
        "last_name": "Ørsted 山田 🚀",
        "address": '"><img src=x onerror=alert(1)>',
        "city": "Zürich",
    }
    add(client, make_product(), 1)
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        placed = client.post(CHECKOUT, hostile)
    order = Order.objects.get()
    assert thank_you_order(placed) == order
    assert (order.first_name, order.last_name) == ("<script>alert(1)</script>", "Ørsted 山田 🚀")

    pages = [
        client.get(reverse("orders:thank_you")),
        client.get(order.get_absolute_url()),
        admin_client.get(reverse("admin:orders_order_change", args=[order.id])),
        admin_client.get(reverse("admin:orders_order_changelist")),
        placed,  # the checkout's own answer, the thank-you page
    ]
    order_created(order.id)
    html_email = mailoutbox[0].alternatives[0][0]
    contents = [page.content.decode() for page in pages] + [html_email]
    for content in contents:
        assert "<script>alert(1)</script>" not in content and "<img src=x" not in content
    status_page, admin_page, email = contents[1], contents[2], contents[-1]
    for content in (status_page, admin_page):
        assert "&lt;script&gt;" in content
    assert "Ørsted 山田 🚀" in status_page
    # The email greets by name and repeats the address (issue 25): escaped in HTML, as typed in plain text.
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in email and "Ørsted" in mailoutbox[0].body
    assert mailoutbox[0].body.startswith("Hello <script>alert(1)</script>,")
    assert "\n" not in mailoutbox[0].subject and mailoutbox[0].to == [customer["email"]]


def test_post_without_csrf_token_is_refused(make_product, customer):
    client = Client(enforce_csrf_checks=True)
    product = make_product()
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code == 403
    assert client.post(CHECKOUT, customer).status_code == 403
    assert_nothing_ordered()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_wrong_methods_are_refused_on_every_endpoint(client, make_product, customer, method):
    product = make_product()
    order = Order.objects.create(**customer)
    gets_only = [
        reverse("shop:product_list"),
        product.category.get_absolute_url(),
        product.get_absolute_url(),
        reverse("cart:cart_detail"),
        reverse("orders:thank_you"),
        order.get_absolute_url(),
    ]
    posts_only = [
        reverse(name, args=[product.id]) for name in ("cart:cart_add", "cart:cart_update", "cart:cart_remove")
    ]
    for url in gets_only + posts_only + [CHECKOUT]:
        assert getattr(client, method)(url).status_code == 405, url
    for url in gets_only:
        assert client.post(url).status_code == 405, url
    for url in posts_only:
        assert client.get(url).status_code == 405, url


def test_double_submitted_checkout_places_one_order(client, make_product, customer, django_capture_on_commit_callbacks):
    add(client, make_product(stock=10), 1)
    key = client.get(CHECKOUT).context["form"]["idempotency_key"].value()
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        first = client.post(CHECKOUT, {**customer, "idempotency_key": key})
        second = client.post(CHECKOUT, {**customer, "idempotency_key": key})
    assert thank_you_order(first) == thank_you_order(second) == Order.objects.get()  # the second shows the first
    assert Order.objects.count() == 1 and delay.call_count == 1


def test_a_key_not_issued_to_this_session_is_not_honoured(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    add(client, make_product(stock=10), 1)
    foreign = uuid.uuid4()
    Order.objects.create(**customer, idempotency_key=foreign)  # someone else's order
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHECKOUT, {**customer, "idempotency_key": str(foreign)})
    assert Order.objects.count() == 2
    own = Order.objects.exclude(idempotency_key=foreign).get()
    assert thank_you_order(response) == own
    assert client.get(reverse("orders:thank_you")).context["order"] == own


def test_email_header_injection_cannot_reach_the_message(db, customer, make_product):
    order = Order.objects.create(**customer)
    Order.objects.filter(id=order.id).update(email="ada@example.com\nBcc: victim@example.com")
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("1.00"), quantity=1)
    OrderEmail.objects.create(order=order, kind="confirmation")
    mail.outbox = []
    # Django refuses header values with line breaks: the email fails for good (retrying cannot help), nothing
    # is sent.
    assert order_created(order.id) == "failed"
    assert mail.outbox == []
    assert "BadHeaderError" in OrderEmail.objects.get(order=order).last_error


def test_replaying_an_old_checkout_form_keeps_the_new_cart(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    first, second = make_product(stock=10), make_product(stock=10)
    add(client, first, 1)
    key = client.get(CHECKOUT).context["form"]["idempotency_key"].value()
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        assert thank_you_order(client.post(CHECKOUT, {**customer, "idempotency_key": key}))
    add(client, second, 2)  # shopping on
    response = client.post(CHECKOUT, {**customer, "idempotency_key": key})  # the old form, from history
    assert thank_you_order(response) == Order.objects.get()  # the order it placed, shown again
    assert Cart(client.session).quantities() == {second.id: 2}


def test_a_checkout_form_sent_again_after_half_an_hour_shows_nothing_of_its_order(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    """The thank-you page is the checkout's answer, so without JavaScript the browser keeps the form in its
    history: the next user of a shared computer may send it again. After LAST_ORDER_MINUTES that shows
    nothing of the order (not the address, nor the status page's link), and does not reopen the thank-you page."""
    add(client, make_product(stock=10), 1)
    key = client.get(CHECKOUT).context["form"]["idempotency_key"].value()
    form = {**customer, "idempotency_key": key}
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        assert thank_you_order(client.post(CHECKOUT, form))
    order = Order.objects.get()
    assert thank_you_order(client.post(CHECKOUT, form)) == order  # a reload a moment later: the same order
    Order.objects.filter(id=order.id).update(created=order.created - timedelta(minutes=31))
    late = client.post(CHECKOUT, form, follow=True)
    page = late.content.decode()
    assert late.redirect_chain[-1][0] == reverse("shop:product_list") and "placed already" in page
    assert order.number not in page and str(order.token) not in page and customer["address"] not in page
    session = client.session
    session["last_order_token"]["at"] -= 31 * 60
    session.save()
    assert client.get(reverse("orders:thank_you")).status_code == 302  # not reopened by the late form
    assert Order.objects.count() == 1


def test_checkout_page_is_never_cached(client, make_product):
    add(client, make_product(), 1)
    assert "no-store" in client.get(CHECKOUT)["Cache-Control"]


def test_thank_you_page_is_only_for_the_shopper_who_just_ordered(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    add(client, make_product(), 1)
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        client.post(CHECKOUT, customer)
    assert client.get(reverse("orders:thank_you")).status_code == 200
    session = client.session
    session["last_order_token"]["at"] -= 31 * 60
    session.save()
    assert client.get(reverse("orders:thank_you")).status_code == 302


def test_message_id_does_not_reveal_the_status_page_token(db, customer, make_product):
    from orders.emails import KINDS, message

    order = Order.objects.create(**customer)
    message_id = message(order, KINDS["confirmation"]).extra_headers["Message-ID"]
    assert str(order.token) not in message_id and order.token.hex not in message_id


# --- Malformed requests ------------------------------------------------------------------------------------


def post_urls(product, order):
    """Every URL that takes a POST, and a few that answer it with 404 or 405."""
    return [
        reverse("cart:cart_add", args=[product.id]),
        reverse("cart:cart_update", args=[product.id]),
        reverse("cart:cart_remove", args=[product.id]),
        CHECKOUT,
        reverse("admin:login"),
        reverse("admin:orders_order_changelist"),
        reverse("shop:product_list"),
        order.get_absolute_url(),
        "/no-such-page/",
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=UTF-32",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=x-no-such-charset",
        "multipart/form-data; boundary=xyz; charset=utf-16",
        "text/plain; charset=cp500",
    ],
)
def test_a_post_in_a_charset_other_than_utf8_gets_400_never_500(make_product, customer, content_type):
    product, order = make_product(), Order.objects.create(**customer)
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "a" * 32  # any CSRF cookie, and the form's token to match it
    body = f"quantity=1&csrfmiddlewaretoken={'a' * 32}".encode()
    for url in post_urls(product, order):
        response = client.generic("POST", url, data=body, content_type=content_type)
        assert response.status_code == 400, url
        assert "UTF-8" in response.content.decode()
    assert Cart(client.session).quantities() == {}


def test_a_form_declared_as_utf8_is_accepted(client, make_product):
    product = make_product()
    response = client.post(
        reverse("cart:cart_add", args=[product.id]),
        data=b"quantity=2",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert response.status_code == 302 and Cart(client.session).quantities() == {product.id: 2}


def test_an_oversized_form_gets_413_never_500(make_product):
    product = make_product()
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "a" * 32
    body = f"csrfmiddlewaretoken={'a' * 32}&quantity=1&padding={'x' * 3 * 1024 * 1024}"
    response = client.post(
        reverse("cart:cart_add", args=[product.id]), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413 and "too large" in response.content.decode()
    assert Cart(client.session).quantities() == {}
