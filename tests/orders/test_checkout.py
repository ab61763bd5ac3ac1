from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import transaction
from django.db.models.functions import Now
from django.urls import reverse

from cart.cart import SESSION_KEY, Cart
from orders.forms import OrderCreateForm
from orders.models import Order, OrderEmail, OrderItem
from orders.outbox import publish
from orders.services import OrderPlacementError, place_order
from orders.tasks import order_created
from shop.models import Product
from shop.stock import count
from testkit.pages import thank_you_order

# --- place_order --------------------------------------------------------------------------------------


def test_place_order_freezes_catalog_prices_and_queues_only_after_commit(
    make_product, customer, django_capture_on_commit_callbacks
):
    pen = make_product(price=Decimal("9.50"), stock=5)
    with patch.object(order_created, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            order = place_order(customer=customer, quantities={pen.id: 2})
            delay.assert_not_called()  # nothing is queued before commit
            # ... but the email is owed in the same transaction as the order
            assert OrderEmail.objects.filter(order=order, kind="confirmation", state="pending").exists()
    delay.assert_called_once_with(order.id)
    item = order.items.get()
    assert (item.price, item.quantity) == (Decimal("9.50"), 2)
    pen.price = Decimal("99.00")
    pen.save()
    assert (order.subtotal, order.shipping_cost, order.total) == (Decimal("19.00"), Decimal("4.90"), Decimal("23.90"))


def test_place_order_reserves_stock(make_product, customer, django_capture_on_commit_callbacks):
    pen = make_product(stock=5)
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        place_order(customer=customer, quantities={pen.id: 3})
    pen.refresh_from_db()
    assert pen.stock == 2


def test_an_order_without_a_name_or_email_is_not_placed_but_optional_fields_may_be_left_out(make_product, customer):
    product = make_product(stock=5)
    with pytest.raises(KeyError):  # a caller's mistake: never an order nobody can be told about
        place_order(customer={"city": "Berlin"}, quantities={product.id: 1})
    assert not Order.objects.exists() and Product.objects.get(id=product.id).stock == 5
    older = {field: value for field, value in customer.items() if field not in ("address_line2", "country", "phone")}
    order = place_order(customer=older, quantities={product.id: 1})
    assert (order.country, order.address_line2, order.phone) == ("DE", "", "")


def test_empty_cart_is_refused(db, customer):
    with pytest.raises(OrderPlacementError, match="empty"):
        place_order(customer=customer, quantities={})
    assert not Order.objects.exists()


def test_order_above_stock_is_refused_and_nothing_is_saved(make_product, customer):
    scarce = make_product(name="Last lamp", stock=1)
    plenty = make_product(stock=10)
    with pytest.raises(OrderPlacementError, match="Last lamp"):
        place_order(customer=customer, quantities={plenty.id: 1, scarce.id: 2})
    assert not Order.objects.exists() and not OrderItem.objects.exists()
    plenty.refresh_from_db()
    assert plenty.stock == 10


def test_unavailable_or_deleted_product_is_refused(make_product, customer):
    hidden = make_product(available=False)
    with pytest.raises(OrderPlacementError, match="no longer available"):
        place_order(customer=customer, quantities={hidden.id: 1})
    with pytest.raises(OrderPlacementError, match="no longer available"):
        place_order(customer=customer, quantities={987654: 1})
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, 10**9, "2"])
def test_out_of_range_quantity_is_refused(make_product, customer, quantity):
    with pytest.raises(OrderPlacementError):
        place_order(customer=customer, quantities={make_product().id: quantity})
    assert not Order.objects.exists()


def test_rolled_back_transaction_queues_nothing(make_product, customer, django_capture_on_commit_callbacks):
    pen = make_product()
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                place_order(customer=customer, quantities={pen.id: 1})
                raise RuntimeError("something later in the request failed")
    assert callbacks == [] and not delay.called
    assert not Order.objects.exists()


def test_a_failed_publish_never_raises_and_makes_the_email_due_for_the_sweep(make_product, customer):
    order = place_order(customer=customer, quantities={make_product().id: 1})
    email = OrderEmail.objects.get(order=order)
    assert email.due_at > email.created  # handed over at commit: the sweep leaves it alone for a period
    with patch("celery.app.task.Task.apply_async", side_effect=OSError("connection refused")):
        assert order_created.delay(order.id) is None
        assert publish(order.id, "confirmation") is False
    email.refresh_from_db()
    assert email.state == "pending"
    assert OrderEmail.objects.filter(id=email.id, due_at__lte=Now()).exists()
    with patch("celery.app.task.Task.apply_async"):
        assert publish(order.id, "confirmation") is True


# --- form -------------------------------------------------------------------------------------------------


def test_order_form_requires_every_field_and_a_valid_email(customer):
    assert OrderCreateForm(customer).is_valid()
    form = OrderCreateForm({**customer, "email": "not-an-email", "city": ""})
    assert not form.is_valid() and set(form.errors) == {"email", "city"}


def test_order_form_refuses_line_breaks(customer):
    form = OrderCreateForm({**customer, "first_name": "Ada\r\nBcc: x@example.com"})
    assert not form.is_valid() and "first_name" in form.errors


# --- views ------------------------------------------------------------------------------------------------


def _fill_cart(client, *products_and_quantities):
    for product, quantity in products_and_quantities:
        response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity})
        assert response.status_code == 302


def test_checkout_page_shows_summary_and_form(client, make_product):
    _fill_cart(client, (make_product(name="Blue mug", price=Decimal("7.00")), 2))
    response = client.get(reverse("orders:order_create"))
    page = response.content.decode()
    assert response.status_code == 200 and "Blue mug" in page and "€14.00" in page and 'name="email"' in page


def test_checkout_with_empty_cart_redirects_to_cart_with_message(client, db):
    response = client.post(reverse("orders:order_create"), {}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("cart:cart_detail")
    assert "cart is empty" in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_empty_cart_redirect_says_so_once(client, db, method):
    response = getattr(client, method)(reverse("orders:order_create"), follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("cart:cart_detail")
    assert page.lower().count("cart is empty") == 1, page


def test_invalid_checkout_rerenders_with_errors_and_keeps_cart(client, make_product, customer):
    mug = make_product()
    _fill_cart(client, (mug, 1))
    response = client.post(reverse("orders:order_create"), {**customer, "email": "nope"})
    assert response.status_code == 400
    assert "Enter an email address like name@example.com" in response.content.decode()
    assert Cart(client.session).quantities() == {mug.id: 1}
    assert not Order.objects.exists()


def test_valid_checkout_places_order_clears_cart_and_shows_confirmation(
    client, make_product, customer, django_capture_on_commit_callbacks
):
    mug, pot = make_product(price=Decimal("7.00")), make_product(price=Decimal("20.00"))
    _fill_cart(client, (mug, 2), (pot, 1))
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:order_create"), customer)
    order = Order.objects.get()
    delay.assert_called_once_with(order.id)
    assert thank_you_order(response) == order  # the form's answer is the thank-you page: one round trip
    page = response.content.decode()
    assert order.number in page and "€34.00" in page and str(order.get_absolute_url()) in page
    # The address the page gives itself (static/js/shop.js) shows the same order, as a reload would.
    assert f'data-page-url="{reverse("orders:thank_you")}"' in page
    assert thank_you_order(client.get(reverse("orders:thank_you"))) == order
    assert client.session.get(SESSION_KEY) in (None, {})
    assert (order.subtotal, order.total) == (Decimal("34.00"), Decimal("38.90"))  # 4.90 shipping


def test_checkout_when_stock_ran_out_meanwhile_shows_message_and_keeps_cart(client, make_product, customer):
    lamp = make_product(name="Desk lamp", stock=2)
    _fill_cart(client, (lamp, 2))
    count(product_id=lamp.id, counted=1, by=None)  # sold elsewhere meanwhile: a stock-take says 1
    page = client.get(reverse("orders:order_create")).content.decode()
    assert "“Desk lamp”: only 1 left." in page

    response = client.post(reverse("orders:order_create"), customer)

    assert response.status_code == 400 and "“Desk lamp”: only 1 left." in response.content.decode()
    assert not Order.objects.exists()
    assert Cart(client.session).quantities() == {lamp.id: 2}
    lamp.refresh_from_db()
    assert lamp.stock == 1


def test_order_status_page_is_reachable_by_token_only(client, customer, db):
    order = Order.objects.create(**customer)
    assert client.get(order.get_absolute_url()).status_code == 200
    assert client.get(f"/orders/{order.id}/").status_code == 404


def test_checkout_rejects_wrong_methods(client, db):
    assert client.put(reverse("orders:order_create")).status_code == 405
    assert client.delete(reverse("orders:order_create")).status_code == 405


def test_order_admin_lists_and_filters_orders(admin_client, customer, make_product):
    order = Order.objects.create(**customer)
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("1.00"), quantity=1)
    OrderEmail.objects.create(order=order, kind="confirmation")
    response = admin_client.get(reverse("admin:orders_order_changelist"), {"confirmation": "pending"})
    assert response.status_code == 200 and "Lovelace" in response.content.decode()
    assert admin_client.get(reverse("admin:orders_order_change", args=[order.id])).status_code == 200


def test_price_changed_after_the_shopper_saw_it_refuses_the_order(make_product, customer):
    lamp = make_product(name="Lamp", price=Decimal("12.00"))
    with pytest.raises(OrderPlacementError, match="price of “Lamp” has just changed"):
        place_order(customer=customer, quantities={lamp.id: 1}, prices_seen={lamp.id: Decimal("10.00")})
    assert not Order.objects.exists()


@pytest.mark.parametrize("change", ["withdrawn", "deleted", "sold out", "short"])
def test_a_line_that_changed_after_the_checkout_page_stops_the_whole_order(client, make_product, customer, change):
    """Never a partial order: the shopper sees which line changed and what to do, and keeps the rest."""
    mug, lamp = make_product(name="Blue mug", stock=10), make_product(name="Lamp", stock=10)
    _fill_cart(client, (mug, 1), (lamp, 3))
    assert client.get(reverse("orders:order_create")).status_code == 200  # both lines shown
    if change == "withdrawn":
        Product.objects.filter(id=lamp.id).update(available=False)
    elif change == "deleted":
        lamp.stock_movements.all().delete()
        Product.objects.filter(id=lamp.id).delete()
    else:
        Product.objects.filter(id=lamp.id).update(stock=0 if change == "sold out" else 2)
    with patch.object(order_created, "delay"):
        response = client.post(reverse("orders:order_create"), customer)
    page = response.content.decode()
    assert response.status_code == 400 and not Order.objects.exists()
    assert ("Lamp" in page or change == "deleted") and ("no longer" in page or "left" in page or "sold out" in page)
    assert Cart(client.session).quantities().get(mug.id) == 1
