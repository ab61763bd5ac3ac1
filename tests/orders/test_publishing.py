"""The hand-over after commit never fails the request: whatever breaks after the order (or the operator's
change) committed, the shopper gets an answer, the cart is cleared, and every email stays owed."""

from unittest.mock import patch

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from orders.models import Order, OrderEmail
from testkit.pages import thank_you_order

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs for real


def fail_writes_after_commit(execute, sql, params, many, context):
    """The database fails every write to the orders tables made outside a transaction (after the commit)."""
    if (
        not context["connection"].in_atomic_block
        and '"orders_' in sql
        and sql.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ):
        raise OperationalError("the database went away (injected)")
    return execute(sql, params, many, context)


@pytest.mark.parametrize("broker", ["up", "down"])
def test_checkout_answers_and_clears_the_cart_whatever_fails_after_the_commit(client, make_product, customer, broker):
    product = make_product()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    refused = OSError("connection refused") if broker == "down" else None
    with (
        patch("celery.app.task.Task.apply_async", side_effect=refused) as publish,
        connection.execute_wrapper(fail_writes_after_commit),
    ):
        response = client.post(reverse("orders:order_create"), customer)
    assert thank_you_order(response) == Order.objects.get()
    assert publish.called and client.session.get("cart") in (None, {})
    order = Order.objects.get()
    assert OrderEmail.objects.filter(order=order, kind="confirmation", state="pending").exists()


def test_one_failing_publish_never_skips_the_others_in_a_bulk_action(admin_client, customer):
    ids = []
    for _ in range(3):
        order = Order.objects.create(**customer)
        OrderEmail.objects.create(order=order, kind="confirmation", state="failed")
        ids.append(order.id)
    published = []

    def publish(task, args=None, *more, **options):
        published.append(args[0])
        if len(published) == 1:
            raise OSError("connection reset")  # the first hand-over fails...

    with (
        patch("celery.app.task.Task.apply_async", autospec=True, side_effect=publish),
        connection.execute_wrapper(fail_writes_after_commit),
    ):  # ...and so does recording it
        response = admin_client.post(
            reverse("admin:orders_order_changelist"), {"action": "resend_confirmation", "_selected_action": ids}
        )
    assert response.status_code == 302
    assert sorted(published) == sorted(ids)
    assert OrderEmail.objects.filter(order_id__in=ids, state="pending").count() == 3


def test_an_owed_email_is_one_row_due_a_requeue_period_later_and_owing_it_again_changes_nothing(customer, settings):
    from datetime import timedelta

    from django.db.models.functions import Now

    from orders import outbox

    order = Order.objects.create(**customer)
    outbox.add(order.id, "confirmation")
    email = OrderEmail.objects.annotate(now=Now()).get(order=order)
    assert (email.kind, email.state, email.attempts, email.claimed_by, email.last_error) == (
        "confirmation",
        "pending",
        0,
        "",
        "",
    )
    due_in = email.due_at - email.now
    assert abs(due_in - timedelta(seconds=settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)) < timedelta(seconds=5)
    assert abs(email.queued_at - email.now) < timedelta(seconds=5) and email.created == email.queued_at
    OrderEmail.objects.filter(id=email.id).update(state="sent")
    outbox.add(order.id, "confirmation")  # owed again, e.g. by a second placement of the same order
    assert list(OrderEmail.objects.filter(order=order).values_list("state", flat=True)) == ["sent"]
