"""The low-stock digest through the real path: beat's task owes it -> RabbitMQ -> a real Celery worker ->
one email to the operators."""

import pytest

from ops.models import OperatorDigest
from ops.tasks import owe_low_stock_digest
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_beats_digest_reaches_the_operators_through_the_worker_once(worker_outbox, make_product, settings):
    settings.SHOP_OPERATOR_EMAILS = ["stock@example.com"]
    make_product(name="Teapot", stock=2)
    make_product(name="Mug", stock=40)
    digest_id = owe_low_stock_digest()  # what beat runs each morning
    assert owe_low_stock_digest() is None  # fired twice: owed once
    wait_for(lambda: OperatorDigest.objects.filter(id=digest_id, state="sent").exists(), what="the digest sent")
    [message] = worker_outbox
    assert message.to == ["stock@example.com"] and "2  Teapot" in message.body and "Mug" not in message.body
