"""Stock moves only by recorded deltas: sold, returned, received, counted. An operator's edit of anything
else never writes stock, and the ledger explains every unit: stock = sum of the product's movements."""

import threading
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from orders.services import place_order
from shop.models import Product

CHANGE = "admin:shop_product_change"


def product_form(product, **changes):
    """The product change form as the admin page posted it, from what it showed when it was loaded."""
    form = {
        "name_en": product.name_en,
        "name_de": product.name_de or "",
        "slug": product.slug,
        "category": product.category_id,
        "description_en": product.description_en or "",
        "price": str(product.price),
        "vat_class": product.vat_class,
        "available": "on",
        "stock": str(product.stock),
    }
    form.update(changes)
    return form


def buy(customer, product, quantity):
    with patch("celery.app.task.Task.apply_async"):
        return place_order(customer=customer, quantities={product.id: quantity})


@pytest.mark.django_db(transaction=True)
def test_an_operator_editing_a_product_never_overwrites_the_stock_a_shopper_just_bought(
    admin_client, make_product, customer
):
    lamp = make_product(name="Lamp", stock=5)
    loaded = Product.objects.get(id=lamp.id)
    assert admin_client.get(reverse(CHANGE, args=[lamp.id])).status_code == 200  # the operator opens it
    buy(customer, lamp, 3)  # a shopper buys 3 meanwhile
    response = admin_client.post(reverse(CHANGE, args=[lamp.id]), product_form(loaded, description_en="Brighter"))
    assert response.status_code == 302, response.content.decode()[:3000]
    lamp.refresh_from_db()
    assert (lamp.description, lamp.stock) == ("Brighter", 2)


@pytest.mark.django_db(transaction=True)
def test_the_product_list_never_overwrites_stock_either(admin_client, make_product, customer):
    lamp = make_product(name="Lamp", stock=5, price=Decimal("10.00"))
    buy(customer, lamp, 3)
    changelist = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(lamp.id),
        "form-0-price": "12.00",
        "form-0-stock": "5",
        "form-0-available": "on",
        "_save": "Save",
    }
    admin_client.post(reverse("admin:shop_product_changelist"), changelist)
    lamp.refresh_from_db()
    assert (lamp.price, lamp.stock) == (Decimal("12.00"), 2)


def test_receiving_and_counting_stock_are_recorded_movements_with_who_and_why(admin_client, make_product, admin_user):
    from shop.models import StockMovement

    lamp = make_product(name="Lamp", stock=5)
    url = reverse("admin:shop_product_stock", args=[lamp.id])
    assert admin_client.post(url, {"kind": "received", "quantity": "7", "note": "delivery 42"}).status_code == 302
    assert admin_client.post(url, {"kind": "counted", "quantity": "10", "note": "stock-take"}).status_code == 302
    lamp.refresh_from_db()
    assert lamp.stock == 10
    moves = list(StockMovement.objects.filter(product=lamp).order_by("id").values_list("reason", "delta", "by", "note"))
    assert moves == [
        ("received", 5, None, "initial stock"),
        ("received", 7, admin_user.id, "delivery 42"),
        ("counted", -2, admin_user.id, "stock-take"),
    ]
    page = admin_client.post(url, {"kind": "received", "quantity": "-3", "note": ""})
    assert page.status_code == 200 and "at least 1" in page.content.decode()  # a clear error, nothing saved
    assert Product.objects.get(id=lamp.id).stock == 10


@pytest.mark.django_db(transaction=True)
def test_the_ledger_explains_every_unit_under_concurrent_selling_receiving_and_cancelling(make_product, customer):
    from django.db.models import Sum

    from orders.services import change_status
    from shop.models import StockMovement
    from shop.stock import receive

    lamps = [make_product(name=f"Lamp {n}", stock=20) for n in range(3)]
    orders, start = [], threading.Barrier(6)

    def shopper(n):
        start.wait()
        try:
            for _ in range(4):
                try:
                    orders.append(
                        place_order(
                            customer={**customer, "email": f"s{n}@example.com"}, quantities={lamps[n % 3].id: 2}
                        )
                    )
                except Exception:  # noqa: BLE001  (sold out: refused, nothing half-done)
                    pass
        finally:
            connections.close_all()

    def operator():
        start.wait()
        try:
            for lamp in lamps:
                receive(product_id=lamp.id, quantity=3, by=None, note="delivery")
            for order in list(orders[:3]):
                change_status(order_ids=[order.id], to="cancelled")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(5)] + [threading.Thread(target=operator)]
    # One patch for all threads: patches entered and left in several threads at once can leave a mock behind.
    with patch("celery.app.task.Task.apply_async"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for lamp in lamps:
        lamp.refresh_from_db()
        ledger = StockMovement.objects.filter(product=lamp).aggregate(total=Sum("delta"))["total"]
        assert lamp.stock == ledger >= 0


def test_a_new_products_stock_is_its_first_movement(make_product):
    from shop.models import StockMovement

    lamp = make_product(stock=12)
    assert list(StockMovement.objects.filter(product=lamp).values_list("reason", "delta")) == [("received", 12)]


def test_no_client_can_post_a_stock_change(make_product, client):
    lamp = make_product(stock=5)
    response = Client().post(
        reverse("admin:shop_product_stock", args=[lamp.id]), {"kind": "received", "quantity": "100"}
    )
    assert response.status_code == 302 and "login" in response["Location"]
    assert Product.objects.get(id=lamp.id).stock == 5
