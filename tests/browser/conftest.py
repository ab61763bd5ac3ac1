"""Fixtures of the browser tests. The `browser` fixture itself is in tests/conftest.py (test_csp.py uses it
too); the context, screenshot and axe-core helpers are in testkit.browser."""

from decimal import Decimal

import pytest

from shop.models import Category, Product


@pytest.fixture
def catalog(transactional_db):
    """Two categories and four products, three in stock; committed, so the live server sees them."""
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    garden = Category.objects.create(name="Garden", slug="garden")
    products = {
        "mug": Product.objects.create(
            category=kitchen,
            name="Blue mug",
            slug="blue-mug",
            price=Decimal("7.00"),
            stock=10,
            description="Holds a large tea.",
        ),
        "teapot": Product.objects.create(
            category=kitchen, name="Teapot", slug="teapot", price=Decimal("20.50"), stock=5
        ),
        "can": Product.objects.create(
            category=garden, name="Watering can", slug="watering-can", price=Decimal("15.00"), stock=8
        ),
        "gnome": Product.objects.create(
            category=garden, name="Garden gnome", slug="garden-gnome", price=Decimal("12.00"), stock=0
        ),
    }
    return products


@pytest.fixture
def media_served(settings, tmp_path):
    """Uploads under a temporary MEDIA_ROOT, served by the live server (Django serves them only with DEBUG)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "testkit.urls_with_media"
    return settings.MEDIA_ROOT
