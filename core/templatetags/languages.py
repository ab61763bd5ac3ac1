from html import escape

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.safestring import mark_safe

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


@register.simple_tag(takes_context=True)
def language_links(context):
    """The head's <link rel="alternate"> to this page in each language and its x-default."""
    request = context.get("request")
    if request is None:
        return ""
    origin = f"{request.scheme}://{request.get_host()}"
    links = [(each["code"], each["url"]) for each in _languages(context)]
    links.append(("x-default", page_default_url(context)))
    # Built as plain strings: format_html's escaping machinery took half the tag's time.
    return mark_safe(
        "\n  ".join(f'<link rel="alternate" hreflang="{code}" href="{escape(origin + url)}">' for code, url in links)
    )


@register.simple_tag(takes_context=True)
def language_buttons(context):
    """The switch's button for each language but the page's own, named in that language."""
    return mark_safe(
        "\n".join(
            f'<button type="submit" class="link-button" name="language" value="{each["code"]}" lang="{each["code"]}">'
            f"{escape(each['name'])}</button>"
            for each in _languages(context)
            if not each["current"]
        )
    )


def _languages(context):
    """page_languages(), worked out once per page and kept in the render context."""
    if "page_languages" not in context.render_context:
        context.render_context["page_languages"] = page_languages(context)
    return context.render_context["page_languages"]
