"""Each kind of order email is declared once (orders.tasks.email_task): its templates, its task, the outbox's
choices and the admin's resend follow from that declaration, and a kind missing any of them fails here."""

import pytest
from django.contrib.admin.sites import site
from django.template.loader import get_template
from django.test import RequestFactory

from myshop.celery import app
from orders import outbox
from orders.emails import KINDS, EmailKind, register
from orders.models import Order, OrderEmail


def test_the_shop_declares_its_three_kinds():
    assert list(KINDS) == ["confirmation", "shipping", "invoice"]


@pytest.mark.parametrize("name", list(KINDS))
def test_a_declared_kind_has_its_templates_task_choice_and_resend_action(name, admin_user):
    kind = KINDS[name]
    for suffix in (".txt", ".html"):
        get_template(kind.template + suffix)  # raises TemplateDoesNotExist
    app.loader.import_default_modules()
    assert app.tasks[kind.task.name].email_kind == name  # what the worker runs for a message of that name
    assert (name, kind.label) in OrderEmail._meta.get_field("kind").choices
    request = RequestFactory().get("/")
    request.user = admin_user
    assert f"resend_{name}" in site._registry[Order].get_actions(request)
    assert any(button.action == f"resend_{name}" for button in site._registry[Order].get_order_buttons())


def test_a_kind_cannot_be_declared_twice():
    with pytest.raises(ValueError, match="declared twice"):
        register(EmailKind("confirmation", "Again", "{shop}", "orders/emails/confirmation", task=None))


def test_an_undeclared_kind_cannot_be_owed(db):
    with pytest.raises(ValueError, match="no email kind"):
        outbox.add(1, "newsletter")
