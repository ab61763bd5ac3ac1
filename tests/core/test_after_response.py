"""The checkout's hand-over to the broker runs after the shopper has the thank-you page, not before it
(core/after_response.py): a slow or unreachable broker never delays the page."""

import threading
from unittest.mock import patch

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.after_response import AfterResponseMiddleware, after_response
from orders.models import Order
from orders.tasks import order_created
from testkit.shopper import Shopper, placed_order_number
from testkit.waiting import wait_until


def test_work_waits_for_the_response_to_close_and_runs_at_once_outside_a_request():
    ran = []

    def view(request):
        after_response(lambda: ran.append("first"))
        after_response(lambda: 1 / 0)  # a failing one is logged, and skips nothing
        after_response(lambda: ran.append("second"))
        return HttpResponse("page")

    response = AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert ran == []  # the response is built, not yet sent
    response.close()  # what the WSGI server calls once it has written the response
    assert ran == ["first", "second"]
    after_response(lambda: ran.append("outside"))
    assert ran[-1] == "outside"


@pytest.mark.django_db(transaction=True)
def test_the_thank_you_page_arrives_while_the_broker_is_still_taking_the_email(
    live_server, make_product, customer, settings
):
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False  # plain HTTP to the test server
    product = make_product(stock=5)
    release, publishing = threading.Event(), threading.Event()

    def slow_broker(order_id):  # the broker taking its time to confirm
        publishing.set()
        release.wait(30)

    shopper = Shopper(live_server.url)
    assert shopper.add_to_cart(product.id, 1) == 302
    with patch.object(order_created, "delay", side_effect=slow_broker) as delay:
        try:
            status, _, body, seconds = shopper.checkout(customer)
            assert placed_order_number(status, body) == Order.objects.get().number
            assert seconds < 10  # long before the broker answered
            wait_until(publishing.is_set, timeout=10, what="the hand-over, after the page")
        finally:
            release.set()
    delay.assert_called_once_with(Order.objects.get().id)
