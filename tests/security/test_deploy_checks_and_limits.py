"""Production configuration: safe by default, clean under Django's deploy checks; abuse limits."""

import io
import json
import os
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from unittest.mock import patch

import pytest
from django.core.cache import caches
from django.core.checks import Tags, run_checks
from django.test import override_settings
from django.urls import reverse

from orders.models import Order
from testkit.caches import redis_cache_or_skip
from testkit.processes import run_python

ROOT = Path(__file__).resolve().parents[2]

# What README's "Production" section tells an operator to set.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k7#Qz9!vR2@mX4$wL8^pN1&sT6*yB3(dF5)hJ0_gC-uE+aZ-Ww91xq0LmTe58RbN",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://myshop:secret@db.internal:5432/myshop",
    "CELERY_BROKER_URL": "amqp://myshop:secret@mq.internal:5672/myshop",
    "SECURE_HSTS_SECONDS": "31536000",
    "SHOP_SITE_URL": "https://shop.example.com",
    "CACHE_URL": "redis://cache.internal:6379/0",
    "PAYMENT_PROVIDER": "stripe",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "SHOP_SELLER_NAME": "Example Shop GmbH",
    "SHOP_SELLER_ADDRESS": "Example Street 1\\n10115 Berlin\\nGermany",
    "SHOP_SELLER_VAT_ID": "DE999999999",
}


# The checks run manage.py in a subprocess with settings of its own, never the suite's database: once (they
# took a minute in each pass), in the SQLite pass, which has less to do.
def OWN_PROCESS(test):  # noqa: N802  (reads as the marks it stands for)
    return pytest.mark.sqlite_pass(pytest.mark.any_database(test))


def manage(*args, **env):
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "myshop.settings",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@OWN_PROCESS
def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@OWN_PROCESS
def test_check_deploy_fails_while_shoppers_could_approve_their_own_payments():
    env = {**PRODUCTION_ENV, "PAYMENT_PROVIDER": "offline"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "payments.W001" in result.stderr


@OWN_PROCESS
def test_check_deploy_warns_when_emails_would_link_to_localhost():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SHOP_SITE_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "orders.W001" in result.stderr + result.stdout


SELLER = {
    "SHOP_SELLER_NAME": "Example Shop GmbH",
    "SHOP_SELLER_ADDRESS": "Example Street 1\n10115 Berlin",
    "SHOP_SELLER_VAT_ID": "DE999999999",
}
SELLER_KEYS = {"SHOP_SELLER_NAME": "name", "SHOP_SELLER_ADDRESS": "address", "SHOP_SELLER_VAT_ID": "vat_id"}


@pytest.mark.any_database
@pytest.mark.parametrize("unset", SELLER_KEYS)
@pytest.mark.parametrize("how", ["empty", "demo"])
def test_check_deploy_warns_while_invoices_would_not_name_the_real_seller(unset, how, settings):
    value = "  " if how == "empty" else settings.DEMO_SELLER[SELLER_KEYS[unset]]

    def seller_warnings(debug=False, **overrides):
        with override_settings(DEBUG=debug, **{**SELLER, **overrides}):
            messages = run_checks(include_deployment_checks=True, tags=[Tags.security])
        return [message for message in messages if message.id == "payments.W002"]

    assert seller_warnings() == []
    [warning] = seller_warnings(**{unset: value})
    assert unset in warning.msg and "VAT ID" in warning.hint
    assert seller_warnings(debug=True, **{unset: value}) == []  # a developer's laptop: the demo seller is fine


@OWN_PROCESS
def test_check_deploy_fails_without_a_shared_cache_for_the_abuse_limits():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "CACHE_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "core.W001" in result.stderr + result.stdout


@OWN_PROCESS
def test_check_deploy_accepts_an_in_process_cache_when_every_limit_is_switched_off():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "CACHE_URL"}
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **env,
        RATE_LIMIT_CHECKOUT="",
        RATE_LIMIT_CART="",
        RATE_LIMIT_LOGIN="",
        ORDER_MAX_PER_CLIENT_PER_DAY="0",
        ACCOUNT_RATE_LIMITS="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@OWN_PROCESS
def test_check_deploy_counts_the_account_limits_among_those_a_shared_cache_must_hold():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "CACHE_URL"}
    shop_limits_off = {
        "RATE_LIMIT_CHECKOUT": "",
        "RATE_LIMIT_CART": "",
        "RATE_LIMIT_LOGIN": "",
        "ORDER_MAX_PER_CLIENT_PER_DAY": "0",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env, **shop_limits_off)
    assert result.returncode != 0 and "ACCOUNT_RATE_LIMITS" in result.stderr + result.stdout


@pytest.mark.parametrize("backend", ["console", "filebased", "locmem"])
@OWN_PROCESS
def test_check_deploy_fails_when_emails_would_be_written_to_a_log_or_file(backend):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
        EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend",
    )
    assert result.returncode != 0 and "orders.W002" in result.stderr + result.stdout


@OWN_PROCESS
def test_check_deploy_fails_on_djangos_smtp_backend_which_would_resend_a_stored_email():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    assert result.returncode != 0 and "orders.W003" in result.stderr + result.stdout


@OWN_PROCESS
def test_check_deploy_warns_when_https_protection_is_switched_off():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
    )
    assert result.returncode != 0 and "security.W008" in result.stderr + result.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "0"}, "Set SECRET_KEY"),
        (
            {"DEBUG": "0", "SECRET_KEY": "django-insecure-development-key-do-not-use-in-production"},
            "development SECRET_KEY",
        ),
    ],
)
@OWN_PROCESS
def test_production_refuses_to_start_without_a_real_secret_key(env, message):
    result = manage("check", **env)
    assert result.returncode != 0 and message in result.stderr


@OWN_PROCESS
def test_admin_path_is_configurable():
    result = manage(
        "shell",
        "-c",
        "from django.urls import reverse; print(reverse('admin:index'))",
        **PRODUCTION_ENV,
        ADMIN_URL="backoffice-7f3a/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("/backoffice-7f3a/")


# Imported with nothing but DEBUG=1 set, the settings show what the code itself holds: every setting named
# for a credential (at any depth, DATABASES' PASSWORD too) is empty, and no URL carries a user and password
# except RabbitMQ's local guest:guest. Prints the settings it checked by name, and what it found.
CREDENTIAL_SCAN = r"""
import json, os, re
os.environ["DJANGO_SETTINGS_MODULE"] = "myshop.settings"
import django
django.setup()
from django.conf import settings

CREDENTIAL = re.compile(r"PASSWORD$|SECRET|TOKEN|API_KEY")
USER_AND_PASSWORD = re.compile(r"://[^/@\s:]*:[^@/\s]*@")
named, found = [], []

def scan(path, name, value):
    if isinstance(value, dict):
        for key, item in value.items():
            scan(f"{path}[{key!r}]", str(key).upper(), item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            scan(f"{path}[{index}]", name, item)
    elif isinstance(value, (str, bytes)):
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if CREDENTIAL.search(name):
            named.append(path)
            if text:
                found.append(f"{path} holds {text!r}")
        found.extend(f"{path} holds {url!r}" for url in USER_AND_PASSWORD.findall(text) if url != "://guest:guest@")

for name in dir(settings):
    if name.isupper() and name not in ("SECRET_KEY", "DEV_SECRET_KEY"):
        scan(name, name, getattr(settings, name))
print(json.dumps({"named": named, "found": found, "secret_key": settings.SECRET_KEY}))
"""


@OWN_PROCESS
def test_no_credentials_are_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert ".env" not in tracked and ".env.example" in tracked
    # Credentials are read from the environment only: with none set, no setting holds one.
    result = run_python(CREDENTIAL_SCAN, DEBUG="1")
    assert result.returncode == 0, result.stderr
    scan = json.loads(result.stdout)
    assert scan["found"] == []
    assert {
        "DATABASES['default']['PASSWORD']",
        "EMAIL_HOST_PASSWORD",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "PAYMENT_OFFLINE_WEBHOOK_SECRET",
        "METRICS_TOKEN",
    } <= set(scan["named"])
    # The one key in the code is the development key, which production refuses (see the test above).
    assert scan["secret_key"].startswith("django-insecure-")


# --- abuse limits ------------------------------------------------------------------------------------------


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request):
    if request.param == "redis":
        with override_settings(CACHES=redis_cache_or_skip()):
            yield request.param
            caches["default"].clear()
    else:
        with override_settings(
            CACHES={
                "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
            }
        ):
            yield request.param


def test_checkout_attempts_beyond_the_limit_get_429_and_no_order(
    client, make_product, customer, settings, cache_backend
):
    settings.RATE_LIMIT_CHECKOUT = "3/600"
    client.post(reverse("cart:cart_add", args=[make_product().id]), {"quantity": 1})
    bad = {**customer, "email": "nope"}
    assert [client.post(reverse("orders:order_create"), bad).status_code for _ in range(3)] == [400] * 3
    limited = client.post(reverse("orders:order_create"), customer)
    assert limited.status_code == 429 and "Too many requests" in limited.content.decode()
    assert limited["Retry-After"] == "600"
    assert not Order.objects.exists()
    assert client.get(reverse("orders:order_create")).status_code == 200  # looking is never limited
    other = client.__class__(REMOTE_ADDR="10.9.8.7")  # another client is not affected
    assert other.post(reverse("orders:order_create"), customer).status_code == 302  # empty cart -> cart page


def test_cart_changes_beyond_the_limit_get_429(client, make_product, settings, cache_backend):
    settings.RATE_LIMIT_CART = "5/60"
    product = make_product(stock=100)
    codes = [client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}).status_code for _ in range(7)]
    assert codes == [302] * 5 + [429] * 2


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(client, make_product, settings):
    settings.RATE_LIMIT_CART = "1/60"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    url = reverse("cart:cart_add", args=[make_product(stock=100).id])
    # Without a trusted proxy a client cannot dodge the limit by inventing X-Forwarded-For values.
    assert client.post(url, {"quantity": 1}, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 302
    assert client.post(url, {"quantity": 1}, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.post(url, {"quantity": 1}, HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 302
    assert client.post(url, {"quantity": 1}, HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 429


def test_an_ipv6_client_cannot_dodge_the_limit_by_rotating_addresses(client, make_product, settings):
    settings.RATE_LIMIT_CART = "2/60"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    url = reverse("cart:cart_add", args=[make_product(stock=100).id])
    codes = [client.post(url, {"quantity": 1}, REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code for n in range(1, 4)]
    assert codes == [302, 302, 429]
    assert client.post(url, {"quantity": 1}, REMOTE_ADDR="2001:db8:9:9::1").status_code == 302


def test_admin_login_attempts_beyond_the_limit_get_429(client, settings, django_user_model):
    settings.RATE_LIMIT_LOGIN = "3/300"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    django_user_model.objects.create_superuser("boss", "boss@example.com", "right-password-123")
    login = reverse("admin:login")
    codes = [client.post(login, {"username": "boss", "password": f"guess-{n}"}).status_code for n in range(3)]
    assert codes == [200, 200, 200]  # wrong password: the form again
    assert client.post(login, {"username": "boss", "password": "right-password-123"}).status_code == 429
    assert client.get(login).status_code == 200


def test_the_limit_window_starts_at_the_clients_first_request(client, make_product, settings, cache_backend):
    """Seven requests that straddle a minute boundary still meet a limit of 5 per minute."""
    settings.RATE_LIMIT_CART = "5/60"
    url = reverse("cart:cart_add", args=[make_product(stock=100).id])
    boundary = (time.time() // 60 + 1) * 60
    clock = iter([boundary - 0.3 + 0.1 * n for n in range(7)])
    codes = []
    for _ in range(7):
        now = next(clock)
        with patch("time.time", return_value=now):
            codes.append(client.post(url, {"quantity": 1}).status_code)
    assert codes == [302] * 5 + [429] * 2


@pytest.mark.parametrize(
    "remote, forwarded, proxies, expected",
    [
        ("1.2.3.4", None, 0, "1.2.3.4"),
        ("1.2.3.4:5678", None, 0, "1.2.3.4"),
        ("[2001:db8:1:2::7]:443", None, 0, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::7", None, 0, "2001:db8:1:2::/64"),
        ("fe80::1%eth0", None, 0, "fe80::/64"),
        ("::ffff:1.2.3.4", None, 0, "1.2.3.4"),
        ("10.0.0.1", "1.2.3.4:5678", 1, "1.2.3.4"),
        ("10.0.0.1", "[2001:db8::1]:8080", 1, "2001:db8::/64"),
        ("10.0.0.1", "9.9.9.9, 1.2.3.4:5678", 1, "1.2.3.4"),
        ("10.0.0.1", "unknown", 1, "10.0.0.1"),
        ("10.0.0.1", "1.2.3.4:http", 1, "10.0.0.1"),
        ("10.0.0.1", "", 1, "10.0.0.1"),
        ("10.0.0.1", "1.2.3.4", 0, "10.0.0.1"),  # no trusted proxy: the header is ignored
        ("", None, 0, None),
        ("unix:/run/gunicorn.sock", None, 0, None),
        ("not an address", "also not", 1, None),
    ],
)
def test_client_addresses_are_parsed_strictly(rf, settings, remote, forwarded, proxies, expected):
    from core.ratelimit import client_address

    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(rf.post("/cart/", **extra)) == expected


def test_clients_behind_a_proxy_that_adds_ports_are_limited_apart(client, make_product, settings):
    settings.RATE_LIMIT_CART = "1/60"
    settings.TRUSTED_PROXY_COUNT = 1
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    url = reverse("cart:cart_add", args=[make_product(stock=100).id])
    post = partial(client.post, url, {"quantity": 1}, REMOTE_ADDR="10.0.0.1")
    assert post(HTTP_X_FORWARDED_FOR="1.2.3.4:5678").status_code == 302
    assert post(HTTP_X_FORWARDED_FOR="1.2.3.4:6789").status_code == 429  # same client, another port
    assert post(HTTP_X_FORWARDED_FOR="5.6.7.8:5678").status_code == 302  # another client is not locked out


def test_clients_without_a_usable_address_never_share_one_bucket(client, make_product, settings):
    settings.RATE_LIMIT_CART = "1/60"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    url = reverse("cart:cart_add", args=[make_product(stock=100).id])
    codes = [
        client.post(url, {"quantity": 1}, REMOTE_ADDR=remote).status_code
        for remote in ("", "", "unix:/run/gunicorn.sock")
    ]
    assert codes == [302, 302, 302]
    assert client.post(url, {"quantity": 1}, REMOTE_ADDR="1.2.3.4").status_code == 302


# --- uploads and passwords ----------------------------------------------------------------------------------


def test_a_30_mb_upload_is_refused_with_a_clear_answer_and_nothing_is_stored(
    admin_client, make_category, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from shop.models import Product

    settings.MEDIA_ROOT = tmp_path
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(picture, "PNG")
    huge = picture.getvalue() + b"\0" * (30 * 1024 * 1024)  # a valid PNG with 30 MB behind it
    response = admin_client.post(
        reverse("admin:shop_product_add"),
        {
            "category": make_category().id,
            "name": "Huge",
            "slug": "huge",
            "price": "1.00",
            "stock": "1",
            "vat_class": "standard",
            "available": "on",
            "image": SimpleUploadedFile("huge.png", huge, "image/png"),
        },
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "too large" in page and f"{settings.REQUEST_BODY_MAX_SIZE // (1024 * 1024)} MB" in page
    assert not Product.objects.exists()
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_a_normal_image_upload_still_works(admin_client, make_category, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from shop.models import Product

    settings.MEDIA_ROOT = tmp_path
    picture = io.BytesIO()
    Image.new("RGB", (400, 400), "teal").save(picture, "PNG")
    response = admin_client.post(
        reverse("admin:shop_product_add"),
        {
            "category": make_category().id,
            "name_en": "Mug",
            "slug": "mug",
            "price": "1.00",
            "stock": "1",
            "vat_class": "standard",
            "available": "on",
            "image": SimpleUploadedFile("mug.png", picture.getvalue(), "image/png"),
        },
    )
    assert response.status_code == 302
    assert (tmp_path / Product.objects.get().image.name).exists()


@pytest.mark.parametrize("password", ["Summer2024", "Password123!", "qwertyuiop12", "shopadmin2024"])
def test_weak_admin_passwords_are_refused(django_user_model, password):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = django_user_model(username="shopadmin", email="admin@shop.example")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_passphrase_is_accepted(django_user_model):
    from django.contrib.auth.password_validation import validate_password

    validate_password("correct horse battery staple", django_user_model(username="boss"))


def test_password_rules_apply_to_the_admin_password_form(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[admin_user.id]),
        {"password1": "Summer2024", "password2": "Summer2024"},
    )
    assert response.status_code == 200 and "at least 12 characters" in response.content.decode()


@pytest.mark.any_database
def test_net_catalog_prices_get_a_warning_since_the_checkout_would_not_charge_their_vat():
    def warnings():
        return [message.id for message in run_checks() if message.id == "payments.W003"]

    assert warnings() == []
    with override_settings(SHOP_PRICES_INCLUDE_VAT=False):
        assert warnings() == ["payments.W003"]
