from django import template
from django.conf import settings
from django.utils import translation

register = template.Library()


@register.simple_tag(takes_context=True)
def page_languages(context):
    """This page in each of the shop's languages: [{code, name, url, current}], for the language switch and the
    hreflang links. The shop's paths are the same in every language, only the prefix differs ("/en/cart/",
    "/de/cart/"), so another language's address is this one with its prefix swapped: Django's translate_url()
    resolves and reverses the path again for each language, a tenth of an order's web CPU over its three pages
    (bench/RESULTS.md). tests/project/test_languages.py holds the result to translate_url()'s. A page without
    a prefix (an error page) links to the same address."""
    request = context.get("request")
    if request is None:
        return []
    here, current = request.get_full_path(), translation.get_language()
    rest = here[len(current) + 1 :] if here.startswith(f"/{current}/") else None
    return [
        {
            "code": code,
            "name": name,
            "url": here if rest is None or code == current else f"/{code}{rest}",
            "current": code == current,
        }
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
