"""bin/messages check (core/translation_check.py) on small templates and catalogs: it finds shop text a German
shopper would see in English, and a .po that is incomplete or whose placeholders differ from the English."""

import textwrap

from core.translation_check import check_catalog, untranslated_text


def test_an_unmarked_word_is_found_with_its_line():
    page = textwrap.dedent("""\
        {% load i18n %}
        <h1>{% translate "Your cart" %}</h1>
        <p class="empty-note">Your cart is empty, {{ user.first_name }}.</p>
    """)

    assert untranslated_text(page) == [(3, "Your cart is empty,")]


def test_an_unmarked_alt_or_meta_description_is_found():
    page = textwrap.dedent("""\
        <meta name="description" content="Mugs and plates at {{ shop_name }}">
        <img src="{{ product.image.url }}" class="product-photo"
             alt="A photo of {{ product.name }}">
        <button aria-label="{{ label }}" title="{% translate 'Remove' %}">×</button>
    """)

    assert untranslated_text(page) == [(1, "Mugs and plates at"), (2, "A photo of")]


def test_marked_text_machine_values_and_non_words_pass():
    page = textwrap.dedent("""\
        {% load i18n money %}{# a comment is no text #}
        <a class="button button-primary" id="checkout-link" href="{% url "orders:order_create" %}">
          {% translate "Checkout" %}</a>
        <img src="/static/img/logo.svg" alt="{% translate 'The shop' %}">
        <p>{% blocktranslate trimmed with total=cart.total|money %}
          Total: <strong>{{ total }}</strong>
        {% endblocktranslate %}</p>
        <p>{% blocktranslate trimmed count counter=n %}{{ counter }} item{% plural %}{{ counter }} items
          {% endblocktranslate %}</p>
        <p>€ 12 · — &copy; {% now "Y" %}</p>
        <script>document.body.dataset.ready = "yes";</script>
        {% comment %}Explained here, in words.{% endcomment %}
    """)

    assert untranslated_text(page) == []


def test_a_plain_text_email_is_all_text():
    body = '{% load i18n %}Hello {{ name }},\n\n{% translate "Thank you for your order." %}\n'

    assert untranslated_text(body, html=False) == [(1, "Hello …,")]


def test_a_catalog_without_german_fuzzy_or_with_other_placeholders_fails(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        textwrap.dedent("""\
            msgid ""
            msgstr ""
            "Content-Type: text/plain; charset=UTF-8\\n"
            "Language: de\\n"

            msgid "Cart"
            msgstr "Warenkorb"

            msgid "Search"
            msgstr ""

            #, fuzzy
            msgid "Log in"
            msgstr "Abmelden"

            #, python-format
            msgid "Total: %(total)s"
            msgstr "Summe: %(summe)s"
        """)
    )

    findings = check_catalog(po)

    assert any("no translation for: Search" in finding for finding in findings)
    assert any("fuzzy (a guess, not used): Log in" in finding for finding in findings)
    assert any("summe" in finding for finding in findings)  # msgfmt --check-format names the stray placeholder
    assert not any("Cart" in finding for finding in findings)
