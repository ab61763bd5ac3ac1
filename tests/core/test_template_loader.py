"""The template loader's copies per language (core/template_loader.py): what it works out once renders as Django
renders it, in each language, whatever the order the languages come in."""

import re
import threading

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import TextNode
from django.urls import NoReverseMatch, path, set_script_prefix, set_urlconf
from django.utils import translation

from core.template_loader import FixedURLNode, KeptMessageNode, KeptStaticNode, KeptTranslationNode

PAGE = (
    '{% load i18n %}<h1>{% translate "Continue shopping" %}</h1>'
    '{% translate "Log in" as login %}<a href="{% url "account_login" %}">{{ login }}</a>'
    "<p>{% blocktranslate trimmed with number=invoice %}Download invoice {{ number }}\n (PDF)"
    "{% endblocktranslate %}</p>"
    '{% url "cart:cart_detail" as cart_url %}<a href="{{ cart_url }}">{{ cart_url }}</a>'
    "{% blocktranslate %}100% {{ missing }}{% endblocktranslate %}"
    "|{% blocktranslate count count=wait %}{{ count }} minute{% plural %}{{ count }} minutes{% endblocktranslate %}"
    '{% comment %}a note{% endcomment %}{% if wait %}<b>{% translate "Search" %}</b>{% else %}{% translate "Log in" %}'
    '{% endif %}{% for n in "ab" %}{% translate "Search" %}{{ n }}{% empty %}-{% endfor %}'
    '{% load static %}<link href="{% static "css/base.css" %}">{% static "js/shop.js" as script %}{{ script }}'
    '<form action="{% url "cart:cart_add" wait %}">'
)
PARENT = '{% load i18n %}<p>{% block one %}{% translate "Search" %}{% endblock %}</p>{% block two %}-{% endblock %}'
CHILD = (
    '{% extends "parent.html" %}{% load i18n %}{% block two %}{{ block.super }}{% translate "Log in" %}'
    '{% url "cart:cart_detail" %}{% endblock %}'
)


LIBRARIES = {"i18n": "django.templatetags.i18n", "static": "django.templatetags.static"}


@pytest.fixture
def engine(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    (tmp_path / "text.txt").write_text("{% autoescape off %}" + PAGE + "{% endautoescape %}")
    (tmp_path / "parent.html").write_text(PARENT)
    (tmp_path / "child.html").write_text(CHILD)
    loaders = [("core.template_loader.Loader", ["django.template.loaders.filesystem.Loader"])]
    return Engine(dirs=[str(tmp_path)], loaders=loaders, libraries=LIBRARIES, string_if_invalid="?%s?")


def render(engine, language, name="page.html", **values):
    with translation.override(language):
        return engine.get_template(name).render(Context({"invoice": "<2026-000001>", "wait": 1, **values}))


def test_each_language_gets_its_own_words_and_addresses_in_any_order(engine):
    for _ in range(2):
        assert render(engine, "de") == (
            '<h1>Weiter einkaufen</h1><a href="/de/accounts/login/">Anmelden</a>'
            "<p>Rechnung &lt;2026-000001&gt; herunterladen (PDF)</p>"
            '<a href="/de/cart/">/de/cart/</a>100% ?missing?|1 Minute<b>Suche</b>SucheaSucheb'
            '<link href="/static/css/base.css">/static/js/shop.js<form action="/de/cart/add/1/">'
        )
        assert render(engine, "en") == (
            '<h1>Continue shopping</h1><a href="/en/accounts/login/">Log in</a>'
            "<p>Download invoice &lt;2026-000001&gt; (PDF)</p>"
            '<a href="/en/cart/">/en/cart/</a>100% ?missing?|1 minute<b>Search</b>SearchaSearchb'
            '<link href="/static/css/base.css">/static/js/shop.js<form action="/en/cart/add/1/">'
        )


def test_the_words_are_worked_out_once_and_the_variables_every_time(engine):
    with translation.override("de"):
        template = engine.get_template("page.html")
    kinds = [type(node) for node in template.nodelist]
    assert kinds.count(KeptTranslationNode) == 1  # {% translate … as login %}; the other is in the text now
    assert kinds.count(KeptMessageNode) == 3 and kinds.count(FixedURLNode) == 3
    assert kinds.count(KeptStaticNode) == 1  # {% static … as script %} stays Django's
    assert kinds[0] is TextNode and template.nodelist[0].s == "<h1>Weiter einkaufen</h1>"  # {% load %} left out

    assert "Rechnung 2026-000002 herunterladen" in render(engine, "de", invoice="2026-000002")
    for wait, words in ((0, "0 Minuten"), (2, "2 Minuten"), (1234, "1234 Minuten"), (1, "1 Minute")):
        assert re.search(rf"\|{words}(?![a-z])", render(engine, "de", wait=wait))
    with pytest.raises(TemplateSyntaxError):  # as Django's tag: a count must be a number
        render(engine, "de", wait="many")


def test_autoescaping_off_leaves_values_as_they_are(engine):
    assert "<p>Rechnung <2026-000001> herunterladen (PDF)</p>" in render(engine, "de", "text.txt")


def test_an_address_follows_the_script_prefix(engine):
    set_script_prefix("/shop/")
    try:
        assert '<a href="/shop/en/cart/">' in render(engine, "en")
    finally:
        set_script_prefix("/")
    assert '<a href="/en/cart/">' in render(engine, "en")


def test_an_address_with_arguments_follows_their_values():
    kept, django = locmem_engines({"t.html": '{% url "cart:cart_add" item %}'})
    for item, address in ((1, "/de/cart/add/1/"), (2, "/de/cart/add/2/"), ("3", "/de/cart/add/3/"), (1, None)):
        assert render(kept, "de", "t.html", item=item) == render(django, "de", "t.html", item=item)
        assert render(kept, "de", "t.html", item=item) == (address or "/de/cart/add/1/")
    for refused in (-1, None, [1]):  # as Django's tag: an argument the pattern refuses
        with pytest.raises(NoReverseMatch):
            render(kept, "de", "t.html", item=refused)


def test_a_static_address_follows_the_static_files_settings(engine, settings):
    assert '<link href="/static/css/base.css">' in render(engine, "en")
    settings.STATIC_URL = "https://cdn.example.com/assets/"
    assert '<link href="https://cdn.example.com/assets/css/base.css">' in render(engine, "en")


@pytest.mark.parametrize("name", ["page.html", "text.txt", "child.html", "parent.html"])
@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("wait", [0, 1, 7])
def test_it_renders_what_djangos_loader_renders(engine, tmp_path, name, language, wait):
    django = Engine(dirs=[str(tmp_path)], libraries=LIBRARIES, string_if_invalid="?%s?")  # a fresh one per language
    with translation.override(language):
        expected = django.get_template(name).render(Context({"invoice": "<2026-000001>", "wait": wait}))

    assert render(engine, language, name, wait=wait) == expected


def locmem_engines(templates):
    """An engine with the shop's loader and one with Django's, over the same templates in memory."""
    libraries = {"i18n": "django.templatetags.i18n"}
    kept = [("core.template_loader.Loader", [("django.template.loaders.locmem.Loader", templates)])]
    return Engine(loaders=kept, libraries=libraries), Engine(loaders=[(kept[0][1][0])], libraries=libraries)


def test_a_template_is_prepared_before_another_thread_can_fetch_it(monkeypatch):
    from core import template_loader

    fields = "".join(f'<i>{n}</i>{{% translate "Search" %}}{{{{ a }}}}' for n in range(6))
    kept, django = locmem_engines({"t.html": "{% load i18n %}" + fields})
    expected, seen, calls = render(django, "de", "t.html", a=1), {}, [0]
    original = template_loader._kept_text

    def fetch_from_another_thread_midway(node):  # as a second gunicorn thread could, while this one prepares
        calls[0] += 1
        if calls[0] == 4:
            other = threading.Thread(target=lambda: seen.update(other=render(kept, "de", "t.html", a=1)))
            other.start()
            other.join()
        return original(node)

    monkeypatch.setattr(template_loader, "_kept_text", fetch_from_another_thread_midway)
    first = render(kept, "de", "t.html", a=1)
    monkeypatch.setattr(template_loader, "_kept_text", original)

    assert first == seen["other"] == expected
    assert render(kept, "de", "t.html", a=1) == expected  # and what the cache keeps for later requests


def elsewhere(request):
    return None


urlpatterns = [path("elsewhere/", elsewhere, name="set_language")]  # this module, as another URLconf


def test_an_address_follows_the_threads_urlconf_as_djangos_tag_does():
    kept, django = locmem_engines({"t.html": '{% url "set_language" %}'})
    for urlconf, address in ((None, "/i18n/setlang/"), (__name__, "/elsewhere/"), (None, "/i18n/setlang/")):
        set_urlconf(urlconf)
        try:
            assert render(kept, "en", "t.html") == render(django, "en", "t.html") == address
        finally:
            set_urlconf(None)


def test_a_language_block_renders_in_its_own_language():
    page = (
        '{% load i18n %}{% translate "Search" %} {% language "de" %}{% translate "Search" %} '
        '{% url "cart:cart_detail" %} '
        "{% blocktranslate count count=n %}{{ count }} minute{% plural %}{{ count }} minutes{% endblocktranslate %}"
        "{% endlanguage %}"
    )
    kept, django = locmem_engines({"t.html": page})
    expected = render(django, "en", "t.html", n=1)
    assert expected == "Search Suche /de/cart/ 1 Minute"
    assert render(kept, "en", "t.html", n=1) == expected
