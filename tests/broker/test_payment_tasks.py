"""The payment tasks through the real broker and a real worker: an operator's cancel closes the provider's
checkout, out of the admin request."""

import pytest
from django.urls import reverse

from payments.models import OfflineCheckout, Payment
from testkit.payments import place, started
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_an_operator_cancel_has_the_worker_close_the_checkout(admin_client, make_product, customer, worker_outbox):
    order = place(make_product, customer)
    paying = started(order)
    answer = admin_client.post(
        reverse("admin:orders_order_act", args=[order.id]), {"action": "cancel", "confirmed": "yes"}
    )
    assert answer.status_code == 302
    assert Payment.objects.get(id=paying.id).state == "expired"  # in the cancelling transaction
    wait_for(
        lambda: OfflineCheckout.objects.get(id=paying.reference).status == "expired",
        timeout=20,
        what="the worker to close the checkout at the provider",
    )
