"""Product photos: the checks an upload must pass, and the resized copies ("renditions") pages show.

A phone photo is several megabytes; a catalog card needs a few dozen kilobytes. Each upload is resized
once, when the product is saved, into WebP copies at RENDITION_WIDTHS (and the original's own width when it
is narrower than the widest: never upscaled);
pages offer them with `srcset`/`sizes` and the browser picks the width it needs. The original is kept
(for a later re-run with other widths: `manage.py make_image_renditions`) but never linked from a page.
"""

import logging
import posixpath
from decimal import Decimal
from io import BytesIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import formats
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

# 560: a two-column catalog card on a 3x phone 390-414 px wide (510-550 device px) would otherwise get 640.
RENDITION_WIDTHS = (160, 320, 480, 560, 640, 960, 1280)
FALLBACK_WIDTH = 480  # the `src` for browsers without srcset: a catalog card's size on most screens
WEBP_QUALITY = 70
ORIENTATION = 0x0112  # the EXIF tag


def check_upload(upload):
    """Raise ValidationError, saying what to do, when an uploaded image is too heavy or has too many pixels."""
    max_megabytes = settings.SHOP_IMAGE_MAX_UPLOAD_MB
    if upload.size > max_megabytes * 1024 * 1024:
        raise ValidationError(
            _(
                "This file is %(size)s MB; the limit is %(limit)s MB. Please upload a smaller file, for example the "
                "photo exported at 3000 pixels wide."
            )
            % {"size": _decimal(upload.size / 1024 / 1024, ".1f"), "limit": _decimal(max_megabytes, "g")}
        )
    width, height = _dimensions(upload)
    max_pixels = settings.SHOP_IMAGE_MAX_PIXELS
    if width * height > max_pixels:
        raise ValidationError(
            _(
                "This picture is %(width)s × %(height)s pixels (%(megapixels)s megapixels); the limit is %(limit)s "
                "megapixels. Please scale it down, for example to 3000 pixels wide."
            )
            % {
                "width": width,
                "height": height,
                "megapixels": _decimal(width * height / 1e6, ".1f"),
                "limit": _decimal(max_pixels / 1e6, ".1f"),
            }
        )


def _decimal(value, style):
    """`value` written with `style` (".1f"), with the active language's decimal separator: "2.5" or "2,5"."""
    return formats.number_format(Decimal(format(value, style)))


def _dimensions(upload):
    image = getattr(upload, "image", None)  # Django's ImageField form field leaves the opened image here
    if image is None:
        upload.seek(0)
        image = Image.open(upload)
        upload.seek(0)
    return image.size


def make_renditions(field_file):
    """Write the resized WebP copies of the image in `field_file`; return [{width, height, name}], narrow first.

    EXIF orientation is applied (a phone photo taken upright shows upright) and no metadata is copied
    (camera details, GPS position). Returns [] for a file Pillow cannot read: the page falls back to it.
    """
    try:
        with field_file.storage.open(field_file.name) as file:
            original = Image.open(file)
            full_width, full_height = original.size
            if original.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # turned a quarter: upright it is the other way
                full_width, full_height = full_height, full_width
            # A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size directly, much faster than in full; the
            # draft stays at least as large as the widest copy.
            original.draft("RGB", (RENDITION_WIDTHS[-1], RENDITION_WIDTHS[-1]))
            icc_profile = original.info.get("icc_profile")
            upright = ImageOps.exif_transpose(original)
            upright.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError, SyntaxError) as error:
        logger.warning("product image %s: could not resize it (%s)", field_file.name, type(error).__name__)
        return []
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    upright = upright.convert("RGBA" if has_alpha else "RGB")
    # Every standard width below the original's, and the original's own when within them (a sharp copy at
    # full size); never wider than the original.
    widths = [width for width in RENDITION_WIDTHS if width < full_width]
    if full_width <= RENDITION_WIDTHS[-1]:
        widths.append(full_width)
    stem = posixpath.splitext(field_file.name)[0]
    renditions = []
    for width in widths:
        height = max(1, round(full_height * width / full_width))
        copy = upright if upright.size == (width, height) else upright.resize((width, height), Image.LANCZOS)
        name = field_file.storage.save(f"{stem}-{width}w.webp", ContentFile(_webp(copy, icc_profile)))
        renditions.append({"width": width, "height": height, "name": name})
    return renditions


def _webp(image, icc_profile):
    out = BytesIO()
    # The colour profile is kept (a phone's wide-gamut photo keeps its colours); EXIF is not copied.
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, icc_profile=icc_profile or b"")
    return out.getvalue()


def delete_renditions(storage, renditions):
    """Remove the files of `renditions` (those of a replaced or removed image); missing ones are fine."""
    for rendition in renditions or []:
        try:
            storage.delete(rendition["name"])
        except (OSError, KeyError, TypeError):
            logger.warning("could not delete an old product image copy")
