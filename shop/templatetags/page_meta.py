"""What a page says about itself to search engines and link previews: its description, OpenGraph tags."""

from django import template

register = template.Library()

DESCRIPTION_LENGTH = 155  # what search results show before cutting a description short


@register.filter
def meta_text(value, length=DESCRIPTION_LENGTH):
    """`value` on one line, cut at a word to at most `length` characters (with "…" when cut)."""
    text = " ".join(str(value).split())
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-") + "…"


@register.simple_tag(takes_context=True)
def absolute_url(context, path):
    """`path` as a full URL on the host the request came to ("https://shop.example/product/1/mug/")."""
    return context["request"].build_absolute_uri(path)


@register.simple_tag(takes_context=True)
def share_image(context, product):
    """{url, width, height} of the largest copy of `product`'s photo, its URL absolute; None without one."""
    if not product.image:
        return None
    if product.image_renditions:
        largest = product.image_renditions[-1]  # narrow first
        url = product.image.storage.url(largest["name"])
        width, height = largest["width"], largest["height"]
    else:  # uploaded before copies were made: the original, size unknown without opening it
        url, width, height = product.image.url, None, None
    return {"url": context["request"].build_absolute_uri(url), "width": width, "height": height}
