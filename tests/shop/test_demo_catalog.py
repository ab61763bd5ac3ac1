"""The demo catalog: loaded once, never overwriting what staff changed, each product with a drawn picture that
goes through the same resized copies as a photo staff upload."""

import functools
import hashlib
import io
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image, ImageStat

from shop import demo_pictures, images
from shop.management.commands.load_demo_catalog import PRODUCTS
from shop.models import Category, Product
from testkit.photos import png_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture(autouse=True)
def quick_pictures(monkeypatch):
    """Each picture drawn once per test run and resized to two widths: the command's path, in a fraction of
    its time (the browser test, tests/browser/test_storefront.py, runs it in full)."""
    monkeypatch.setattr(demo_pictures, "draw", _drawn_once)
    monkeypatch.setattr(images, "RENDITION_WIDTHS", (160, 320))


_real_draw = demo_pictures.draw


@functools.cache
def _drawn_once(picture, backdrop):
    return _real_draw(picture, backdrop)


def load():
    out = io.StringIO()
    call_command("load_demo_catalog", stdout=out)
    return out.getvalue()


def test_demo_catalog_loads_and_is_idempotent(db):
    assert "12 pictures drawn" in load()
    counts = (Category.objects.count(), Product.objects.count())
    pictures = dict(Product.objects.values_list("slug", "image"))
    assert "0 pictures drawn" in load()
    assert counts == (Category.objects.count(), Product.objects.count())
    assert pictures == dict(Product.objects.values_list("slug", "image"))  # kept, not drawn again
    assert counts[0] >= 3 and counts[1] >= 8
    assert Product.objects.filter(available=True, stock__gt=0).count() == counts[1]


def test_demo_coffee_and_tea_are_sold_at_the_reduced_vat_rate_the_gear_at_the_standard(db):
    load()
    classes = dict(Product.objects.values_list("category__slug", "vat_class").distinct())
    assert classes["coffee"] == classes["tea"] == Product.VatClass.REDUCED  # food, in Germany
    assert classes["brewing-gear"] == classes["mugs-cups"] == Product.VatClass.STANDARD


def test_demo_catalog_never_restocks_or_reprices_existing_products(db):
    load()
    product = Product.objects.order_by("id").first()
    Product.objects.filter(id=product.id).update(stock=0, price=Decimal("1.23"), available=False)
    load()
    product.refresh_from_db()
    assert (product.stock, product.price, product.available) == (0, Decimal("1.23"), False)


def test_every_demo_product_gets_its_own_picture_resized_like_an_upload(db, client):
    with patch.object(images, "make_renditions", wraps=images.make_renditions) as make:
        load()
    products = list(Product.objects.all())
    assert len(products) == len(PRODUCTS) and make.call_count == len(PRODUCTS)
    digests = set()
    for product in products:
        assert product.image.name.endswith(f"{product.slug}.jpg")
        assert [r["width"] for r in product.image_renditions] == [160, 320]
        for rendition in product.image_renditions:
            with product.image.storage.open(rendition["name"]) as file:
                copy = Image.open(file)
                copy.load()
            assert copy.format == "WEBP" and copy.width == rendition["width"]
        with product.image.open() as file:
            picture = Image.open(file).convert("RGB")
            digests.add(hashlib.sha256(picture.tobytes()).hexdigest())
        # A picture, not a flat card: the object stands out from its backdrop.
        assert max(ImageStat.Stat(picture).stddev) > 20
        page = client.get(product.get_absolute_url()).content.decode()
        assert product.image.storage.url(product.image_renditions[0]["name"]) in page
        assert "no-image.svg" not in page
    assert len(digests) == len(PRODUCTS)  # every product looks different


def test_a_photo_staff_uploaded_is_kept(db):
    load()
    product = Product.objects.get(slug="stoneware-mug-350ml")
    product.image = ContentFile(png_bytes((400, 400)), name="our-own-mug.png")
    product.save()
    load()
    product.refresh_from_db()
    assert product.image.name.endswith("our-own-mug.png") and product.image_renditions


def test_demo_products_made_before_pictures_and_pictures_whose_files_are_gone_get_drawn(db, media_root):
    category = Category.objects.create(slug="tea", name="Tea")
    older = Product.objects.create(category=category, slug="assam-breakfast-200g", name="Assam", price=9, stock=3)
    load()
    older.refresh_from_db()
    assert older.image and older.image_renditions
    lost = Product.objects.get(slug="gooseneck-kettle-1l")
    for name in [lost.image.name, *(r["name"] for r in lost.image_renditions)]:
        lost.image.storage.delete(name)
    assert "1 picture drawn" in load()
    lost.refresh_from_db()
    assert all(lost.image.storage.exists(r["name"]) for r in lost.image_renditions)
    assert lost.image.storage.exists(lost.image.name) and len(lost.image_renditions) == 2


def test_the_demo_ships_german_text_and_fills_in_what_an_older_demo_lacks(db):
    from shop.management.commands.load_demo_catalog import GERMAN_PRODUCTS

    tea = Category.objects.create(slug="tea", name_en="Tea")  # loaded before the German text shipped
    older = Product.objects.create(category=tea, slug="assam-breakfast-200g", name_en="Assam", price=9, stock=3)
    edited = Product.objects.create(
        category=tea, slug="sencha-fukamushi-100g", name_en="Sencha", name_de="Unser Sencha", price=9, stock=3
    )
    load()
    assert Product.objects.count() == len(PRODUCTS) == len(GERMAN_PRODUCTS)
    assert (
        not Product.objects.filter(name_de=None).exists() and not Product.objects.filter(description_de=None).exists()
    )
    assert not Category.objects.filter(name_de=None).exists()
    ethiopia = Product.objects.get(slug="ethiopia-yirgacheffe-250g")
    assert (ethiopia.name_en, ethiopia.name_de) == ("Ethiopia Yirgacheffe, 250 g", "Äthiopien Yirgacheffe, 250 g")
    older.refresh_from_db()
    edited.refresh_from_db()
    tea.refresh_from_db()
    assert (older.name_en, older.name_de) == ("Assam", "Assam-Frühstückstee, 200 g")  # filled in, English kept
    assert edited.name_de == "Unser Sencha" and edited.description_de == GERMAN_PRODUCTS[edited.slug][1]
    assert (tea.name_en, tea.name_de) == ("Tea", "Tee")
