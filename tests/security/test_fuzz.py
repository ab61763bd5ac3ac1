"""No byte sequence gives a 5xx: the webhooks and every POST form, fed random bytes, encodings, header values
and lengths by Hypothesis. Each answer is a 4xx (or the form's own refusal) and nothing is stored."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Order
from payments.models import OfflineCheckout, Payment, WebhookEvent
from testkit.payments import STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# What a WSGI server can hand over as a header value: any code point below 256 (latin-1), as text.
header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=300)
# Values shaped like a signature header, to get past the first split: t=<anything>,v1=<anything>.
signature_like = st.builds(
    lambda timestamp, signature, extra: f"t={timestamp},v1={signature}{extra}",
    st.one_of(st.integers(), st.text(max_size=20)).map(str),
    st.one_of(st.text(max_size=80), st.text("0123456789abcdef", min_size=64, max_size=64)),
    st.sampled_from(["", ",v1=", ",t=1", ",,", "=", ",v0=ab"]),
)
bodies = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=500).map(str.encode),
    st.sampled_from([b"{}", b"[]", b"null", b'{"id": 1}', b'{"type": "checkout.approved", "checkout": {}}']),
)
field_values = st.one_of(
    st.text(max_size=200),
    st.text(min_size=2000, max_size=5000),
    st.sampled_from(["", "0", "-1", "1e309", "NaN", "99999999999999999999", "\x00", "1", " 2 ", "ab@cd"]),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=nope",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "text/plain",
        "",
    ]
)


@pytest.fixture
def webhooks_open(settings):
    settings.PAYMENT_PROVIDER = "offline"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET


def assert_nothing_stored():
    assert WebhookEvent.objects.count() == 0
    assert Payment.objects.count() == 0 and OfflineCheckout.objects.count() == 0


@pytest.mark.parametrize("provider, header", [("offline", "X-Offline-Signature"), ("stripe", "Stripe-Signature")])
@FUZZ
@given(body=bodies, signature=st.one_of(header_text, signature_like))
def test_a_webhook_refuses_any_unsigned_bytes_with_400(webhooks_open, provider, header, body, signature):
    client = Client(raise_request_exception=False)
    response = client.post(
        reverse("webhooks:payment", args=[provider]),
        data=body,
        content_type="application/json",
        headers={header: signature},
    )
    assert response.status_code == 400, (response.status_code, signature)
    assert_nothing_stored()


def test_the_reported_non_ascii_signature_is_refused_with_400(webhooks_open):
    """The case of the report: X-Offline-Signature: t=<now>,v1=é (hmac.compare_digest raised TypeError)."""
    import time

    for provider, header in (("offline", "X-Offline-Signature"), ("stripe", "Stripe-Signature")):
        response = Client(raise_request_exception=False).post(
            reverse("webhooks:payment", args=[provider]),
            data=b"{}",
            content_type="application/json",
            headers={header: f"t={int(time.time())},v1=\u00e9"},
        )
        assert response.status_code == 400, provider


@pytest.fixture
def shopper(make_product):
    """A client with a cart, so that the checkout's form is read; the product and an order to aim at."""
    product = make_product(stock=50)
    client = Client(raise_request_exception=False)
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code == 302
    return client, product


def post_targets(product):
    return {
        reverse("cart:cart_add", args=[product.id]): ["quantity", "override"],
        reverse("cart:cart_update", args=[product.id]): ["quantity"],
        reverse("cart:cart_remove", args=[product.id]): [],
        reverse("orders:order_create"): [
            "first_name",
            "last_name",
            "email",
            "address",
            "postal_code",
            "city",
            "idempotency_key",
        ],
        "/en/payments/offline/ofc_none/": ["decision"],
        "/en/orders/00000000-0000-0000-0000-000000000000/pay/": [],
        reverse("admin:login"): ["username", "password"],
    }


# Headers the shop reads from a request: the client's address behind a proxy, the session and CSRF cookies.
request_headers = st.fixed_dictionaries(
    {},
    optional={
        "X-Forwarded-For": header_text,
        "Cookie": st.one_of(header_text, header_text.map(lambda value: f"sessionid={value}")),
        "Accept-Language": header_text,
        "Referer": header_text,
    },
)


@FUZZ
@given(data=st.data(), headers=request_headers)
def test_every_post_form_answers_random_fields_without_a_5xx(shopper, settings, data, headers):
    settings.TRUSTED_PROXY_COUNT = 1  # X-Forwarded-For is read
    client, product = shopper
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})  # a cart: the checkout's form is read
    url, names = data.draw(st.sampled_from(sorted(post_targets(product).items())), label="form")
    form = {name: data.draw(field_values, label=name) for name in names}
    orders_before = Order.objects.count()
    response = client.post(url, form, headers=headers)
    assert response.status_code < 500, (url, form)
    placed = response.status_code == 200 and b'id="order-number"' in response.content
    assert placed or Order.objects.count() == orders_before


@FUZZ
@given(data=st.data(), body=st.binary(max_size=3000), content_type=content_types)
def test_every_post_form_answers_random_bodies_without_a_5xx(shopper, data, body, content_type):
    client, product = shopper
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    url = data.draw(st.sampled_from(sorted(post_targets(product))), label="url")
    orders_before = Order.objects.count()
    response = client.generic("POST", url, data=body, content_type=content_type)
    assert 400 <= response.status_code < 500 or response.status_code in (200, 302), (url, response.status_code)
    assert Order.objects.count() == orders_before
