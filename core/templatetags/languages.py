from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils import translation

register = template.Library()


@register.simple_tag(takes_context=True)
def page_languages(context):
    """This page in each of the shop's languages: [{code, name, url, current}], for the language switch and the
    hreflang links. A page that has no counterpart (an error page) links to the same address."""
    request = context.get("request")
    if request is None:
        return []
    here = request.get_full_path()
    current = translation.get_language()
    return [
        {"code": code, "name": name, "url": translate_url(here, code), "current": code == current}
        for code, name in settings.LANGUAGES
    ]


@register.simple_tag(takes_context=True)
def page_default_url(context):
    """This page's address without its language prefix ("/de/cart/" -> "/cart/"), for hreflang="x-default": it
    redirects a visitor to the language of their cookie, else of their browser. A page without a prefix (an
    error page) gives its own address."""
    request = context.get("request")
    if request is None:
        return ""
    here, prefix = request.get_full_path(), f"/{translation.get_language()}/"
    return "/" + here[len(prefix) :] if here.startswith(prefix) else here
