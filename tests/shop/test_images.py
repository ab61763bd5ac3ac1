"""Product photos: checked on upload, resized once into light copies that the pages offer by width."""

import io
import re
from unittest.mock import patch

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from shop import images
from shop.models import Product
from testkit.photos import photo_jpeg, png_bytes

pytestmark = pytest.mark.any_database  # image files


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _open(product, width):
    [rendition] = [r for r in product.image_renditions if r["width"] == width]
    with product.image.storage.open(rendition["name"]) as file:
        image = Image.open(file)
        image.load()
    return rendition, image


def test_upload_makes_webp_copies_at_each_width_up_to_the_original(make_product):
    product = make_product(image=ContentFile(photo_jpeg(size=(1000, 750)), name="lamp.jpg"))
    product.refresh_from_db()
    assert [r["width"] for r in product.image_renditions] == [160, 320, 480, 560, 640, 960, 1000]
    rendition, image = _open(product, 480)
    assert image.format == "WEBP" and image.size == (480, 360) == (rendition["width"], rendition["height"])
    for r in product.image_renditions:
        assert product.image.storage.size(r["name"]) < product.image.size
        assert r["name"].endswith(f"-{r['width']}w.webp")


def test_a_small_picture_gets_one_copy_at_its_own_size_never_upscaled(make_product):
    product = make_product(image=ContentFile(png_bytes((100, 80)), name="tiny.png"))
    product.refresh_from_db()
    assert [(r["width"], r["height"]) for r in product.image_renditions] == [(100, 80)]


def test_copies_are_made_once_per_upload_not_on_every_save(make_product):
    product = make_product(image=ContentFile(png_bytes((400, 400)), name="a.png"))
    with patch.object(images, "make_renditions", wraps=images.make_renditions) as make:
        product.price = 3
        product.save()
        Product.objects.get(id=product.id).save()
        make.assert_not_called()
        product.image = ContentFile(png_bytes((400, 400), "red"), name="b.png")
        product.save()
        make.assert_called_once()


def test_replacing_or_removing_the_image_deletes_the_old_copies(make_product):
    product = make_product(image=ContentFile(png_bytes((400, 400)), name="a.png"))
    old = [r["name"] for r in product.image_renditions]
    assert old and all(product.image.storage.exists(name) for name in old)
    product.image = ContentFile(png_bytes((400, 400), "red"), name="b.png")
    product.save()
    assert not any(product.image.storage.exists(name) for name in old)
    newer = [r["name"] for r in product.image_renditions]
    product.image = None
    product.save()
    assert product.image_renditions == [] and not any(product.image.storage.exists(name) for name in newer)


def test_phone_photo_is_turned_upright_and_loses_its_metadata(make_product):
    # EXIF orientation 6: the camera was turned; the stored pixels are 400 wide, 300 high, shown upright 300x400.
    product = make_product(image=ContentFile(photo_jpeg(size=(400, 300), exif_orientation=6), name="p.jpg"))
    rendition, image = _open(product, 300)
    assert image.size == (300, 400) and not image.getexif()
    assert (rendition["width"], rendition["height"]) == (300, 400)


def test_transparent_png_keeps_its_transparency(make_product):
    product = make_product(image=ContentFile(png_bytes((200, 200), (0, 0, 0, 0), "RGBA"), name="t.png"))
    _, image = _open(product, 160)
    assert image.mode == "RGBA" and image.getpixel((5, 5))[3] == 0


def test_an_unreadable_image_file_leaves_the_product_saved_without_copies(make_product, caplog):
    product = make_product(image=ContentFile(b"not an image at all", name="broken.jpg"))
    product.refresh_from_db()
    assert product.image_renditions == []
    assert "could not resize" in caplog.text


# --- pages -----------------------------------------------------------------------------------------------


def _img_tags(html):
    return re.findall(r"<img\b[^>]*>", html)


def test_catalog_product_and_cart_images_offer_sizes_by_width_never_the_original(client, make_product):
    product = make_product(name="Lamp", image=ContentFile(photo_jpeg(size=(1000, 1000)), name="lamp.jpg"))
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    for url, sizes in (
        (reverse("shop:product_list"), "calc(50vw - 24px)"),
        (product.get_absolute_url(), "100vw"),
        (reverse("cart:cart_detail"), "64px"),
    ):
        [tag] = [tag for tag in _img_tags(client.get(url).content.decode()) if "/lamp" in tag]
        assert product.image.url not in tag, f"{url} serves the original: {tag}"
        srcset = re.search(r'srcset="([^"]+)"', tag).group(1)
        widths = [entry.rsplit(" ", 1)[1] for entry in srcset.split(", ")]
        assert widths == ["160w", "320w", "480w", "560w", "640w", "960w", "1000w"]
        assert re.search(r'sizes="[^"]*' + re.escape(sizes), tag), tag
        assert re.search(r'src="[^"]+-480w\.webp"', tag), tag


def test_product_without_image_keeps_the_placeholder(client, make_product):
    product = make_product(name="Plain")
    for url in (reverse("shop:product_list"), product.get_absolute_url()):
        [tag] = list(_img_tags(client.get(url).content.decode()))
        assert "img/no-image.svg" in tag and "srcset" not in tag


def test_image_uploaded_before_copies_existed_is_shown_until_they_are_made(client, make_product):
    product = make_product(image=ContentFile(png_bytes((300, 300)), name="old.png"))
    Product.objects.filter(id=product.id).update(image_renditions=[])
    assert product.image.url in client.get(product.get_absolute_url()).content.decode()
    from django.core.management import call_command

    out = io.StringIO()
    call_command("make_image_renditions", stdout=out)
    assert "1 product" in out.getvalue()
    product.refresh_from_db()
    assert [r["width"] for r in product.image_renditions] == [160, 300]


# --- the admin's upload checks -----------------------------------------------------------------------------


def _add_product(admin_client, category, upload):
    return admin_client.post(
        reverse("admin:shop_product_add"),
        {
            "category": category.id,
            "name_en": "Photo lamp",
            "slug": "photo-lamp",
            "description": "",
            "price": "9.00",
            "stock": "3",
            "vat_class": "standard",
            "available": "on",
            "image": upload,
        },
    )


def test_admin_upload_of_a_phone_photo_makes_the_copies(admin_client, make_category):
    response = _add_product(
        admin_client, make_category(), SimpleUploadedFile("lamp.jpg", photo_jpeg(size=(1200, 900)), "image/jpeg")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [r["width"] for r in Product.objects.get().image_renditions] == [160, 320, 480, 560, 640, 960, 1200]


def test_admin_refuses_a_file_above_the_size_cap_with_a_clear_error(admin_client, make_category, settings):
    settings.SHOP_IMAGE_MAX_UPLOAD_MB = 0.5
    response = _add_product(
        admin_client, make_category(), SimpleUploadedFile("big.jpg", photo_jpeg(size=(1600, 1600)), "image/jpeg")
    )
    assert response.status_code == 200 and not Product.objects.exists()
    errors = " ".join(response.context["adminform"].form.errors["image"])
    assert re.search(r"This file is [\d.]+ MB; the limit is 0.5 MB", errors), errors


def test_admin_refuses_a_picture_with_too_many_pixels(admin_client, make_category, settings):
    settings.SHOP_IMAGE_MAX_PIXELS = 1_000_000
    response = _add_product(
        admin_client, make_category(), SimpleUploadedFile("wide.png", png_bytes((2000, 600)), "image/png")
    )
    assert response.status_code == 200 and not Product.objects.exists()
    errors = " ".join(response.context["adminform"].form.errors["image"])
    assert "2000 × 600 pixels" in errors and "1.0 megapixels" in errors, errors
