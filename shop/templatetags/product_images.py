from django import template
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

from shop.images import FALLBACK_WIDTH

register = template.Library()


@register.simple_tag
def product_img(product, *, sizes, width, height, alt="", css_class="", loading=""):
    """<img> of `product`'s photo offering its resized copies by width (`srcset`), for a slot of `sizes`.

    A product without a photo shows the placeholder; one whose copies are not made yet, the original.
    """
    attributes = {
        "alt": alt,
        "width": width,
        "height": height,
        "class": css_class,
        "loading": loading,
        "decoding": "async",
    }
    renditions = product.image_renditions if product.image else []
    if renditions:
        storage = product.image.storage
        fallback = min(renditions, key=lambda r: abs(r["width"] - FALLBACK_WIDTH))
        attributes["src"] = storage.url(fallback["name"])
        attributes["srcset"] = ", ".join(f"{storage.url(r['name'])} {r['width']}w" for r in renditions)
        attributes["sizes"] = sizes
    elif product.image:
        attributes["src"] = product.image.url
    else:
        attributes["src"] = static("img/no-image.svg")
    return format_html(
        "<img {}>",
        format_html_join(
            " ", '{}="{}"', ((name, value) for name, value in attributes.items() if value != "" or name == "alt")
        ),
    )
