"""Django's cached template loader, with a compiled copy of each template per language in which what cannot change
while the process runs is worked out once: the translation of fixed text, and addresses without arguments.

Two languages made every page and email dearer to render: each `{% translate "Cart" %}` looked its words up in
the catalogs on every render, each `{% blocktranslate %}` built its message and looked it up, and the pages
gained addresses to reverse (bench/RESULTS.md, "Templates prepared once"). Here, when a template is compiled,
before the cache hands it to any thread:

- a `{% translate %}` of a quoted string keeps the words it renders to in that language;
- a `{% blocktranslate %}` keeps its translated message (with a count, one per count met), and fills in its
  variables per render;
- a `{% url "name" %}`, with or without positional arguments, keeps the addresses it reversed (the last 4,096),
  per script prefix, URLconf, current app and argument values (an address changes only with the code);
- a `{% static "path" %}` keeps its address per script prefix until a static files setting changes (Django's
  storage works it out in about 12 µs, three times a page);
- each run of fixed text becomes one node, and `{% load %}` and `{% comment %}` are left out.

Tags with a variable, a filter or a context looked up at render time, and anything inside `{% language %}`,
render as Django renders them. The language is the one active when the template is fetched, which `render()`,
`{% extends %}` and `{% include %}` do as they render: a template object kept and rendered later in another
language would keep the first one's words, so the shop never keeps one. tests/core/test_template_loader.py
compares the output with Django's loader.
"""

from decimal import Decimal

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Context
from django.template.base import Node, NodeList, TextNode, render_value_in_context
from django.template.defaulttags import CommentNode, IfNode, LoadNode, URLNode
from django.template.loaders import base, cached
from django.templatetags.i18n import BlockTranslateNode, LanguageNode, TranslateNode
from django.templatetags.static import StaticNode
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString


class _Preparing(base.Loader):
    """Prepares each template as it is compiled, before the cached loader stores it: no other thread sees a
    template being prepared (two threads that compile the same one each prepare their own)."""

    def get_template(self, template_name, skip=None):
        template = super().get_template(template_name, skip)
        _prepare(template)
        return template


class Loader(cached.Loader, _Preparing):
    def cache_key(self, template_name, skip=None):
        if not skip:  # as Django's key, without its join: a template is fetched several times a page
            return f"{translation.get_language()}:{template_name}"
        return f"{translation.get_language()}:{super().cache_key(template_name, skip)}"


def _prepare(template):
    # A {% language %} block renders in another language than its template's: left as Django renders it.
    elsewhere = {id(node) for block in template.nodelist.get_nodes_by_type(LanguageNode) for node in _inside(block)}
    for node in template.nodelist.get_nodes_by_type(TranslateNode):
        if type(node) is TranslateNode and id(node) not in elsewhere:
            if _literal(node.filter_expression) and _literal(node.message_context):
                _keep_translation(node, template)
    for node in template.nodelist.get_nodes_by_type(BlockTranslateNode):
        if type(node) is BlockTranslateNode and id(node) not in elsewhere and _literal(node.message_context):
            _keep_message(node)
    for node in template.nodelist.get_nodes_by_type(URLNode):
        if type(node) is URLNode and id(node) not in elsewhere and not node.kwargs:
            if _literal(node.view_name):
                node.urls = {}
                node.__class__ = FixedURLNode
    for node in template.nodelist.get_nodes_by_type(StaticNode):
        if type(node) is StaticNode and node.varname is None and _literal(node.path):
            node.__class__ = KeptStaticNode
    _compact(template.nodelist)


def _inside(node):
    return [each for nodelist in _nodelists(node) for each in nodelist.get_nodes_by_type(Node)]


def _nodelists(node):
    """The node lists a node renders: an {% if %}'s branches, and what its child_nodelists name."""
    if type(node) is IfNode:
        return [nodelist for _, nodelist in node.conditions_nodelists]
    nodelists = (getattr(node, name, None) for name in node.child_nodelists)
    return [nodelist for nodelist in nodelists if isinstance(nodelist, NodeList)]


def _compact(nodelist):
    """Join each run of fixed text (template text and kept words) into one text node, and leave out `{% load %}`
    and `{% comment %}` (which render nothing): a node fewer to render for each (tests/core compares the output
    with Django's loader)."""
    compacted = []
    for node in nodelist:
        for inner in _nodelists(node):
            _compact(inner)
        if type(node) in (LoadNode, CommentNode):
            continue
        text = node.s if type(node) is TextNode else _kept_text(node)
        if text is not None and compacted and type(compacted[-1]) is TextNode:
            compacted[-1] = TextNode(compacted[-1].s + text)
        elif text is not None and type(node) is not TextNode:
            compacted.append(TextNode(text))
        else:
            compacted.append(node)
    nodelist[:] = compacted


def _kept_text(node):
    """The words a kept `{% translate %}` renders whether or not the template escapes; None for any other node."""
    if type(node) is KeptTranslationNode and not node.asvar and node.outputs[True] == node.outputs[False]:
        return str(node.outputs[True])
    return None


def _literal(expression):
    """Whether a tag's argument is absent or a quoted string without filters."""
    return expression is None or (not expression.filters and _text(expression) is not None)


def _text(expression):
    """A quoted string argument's text: the parser keeps it as a string, or as a Variable (`{% translate %}`)."""
    return expression.var if isinstance(expression.var, str) else getattr(expression.var, "literal", None)


def _keep_translation(node, template):
    """Render the `{% translate %}` once with and once without autoescaping, and keep what it gives."""
    outputs = {}
    for autoescape in (True, False):
        context = Context(autoescape=autoescape)
        context.template = template
        rendered = node.render(context)
        outputs[autoescape] = context[node.asvar] if node.asvar else rendered
    node.outputs = outputs
    node.__class__ = KeptTranslationNode


def _keep_message(node):
    """Look the `{% blocktranslate %}`'s message up once (with a count: once per count); left to Django if a
    translation does not format."""
    message, names = node.render_token_list(node.singular)
    translated, forms, messages = None, {}, ()
    if node.plural:
        plural, plural_names = node.render_token_list(node.plural)
        names, messages = names + plural_names, (message, plural)
        node.messages = messages
        forms = {count: _plural(node, count) for count in (0, 1, 2)}
        candidates = forms.values()
    else:
        if node.message_context:
            translated = translation.pgettext(_text(node.message_context), message)
        else:
            translated = translation.gettext(message)
        candidates = [translated]
    try:
        for candidate in candidates:
            candidate % dict.fromkeys(names, "")
    except (KeyError, ValueError, TypeError):
        return
    node.translated, node.forms, node.messages, node.names = translated, forms, messages, names
    node.__class__ = KeptMessageNode


class KeptTranslationNode(TranslateNode):
    """A `{% translate "…" %}` with its words kept from when its template was compiled."""

    outputs: dict

    def render(self, context):
        value = self.outputs[context.autoescape]
        if self.asvar:
            context[self.asvar] = value
            return ""
        return value


class KeptMessageNode(BlockTranslateNode):
    """A `{% blocktranslate %}`, its message translated when its template was compiled; with a count, the message
    for each count met (the first 100 of them)."""

    translated: str | None  # without a count
    forms: dict  # count -> translated message, with a count
    messages: tuple  # with a count: the singular and plural messages as gettext sees them
    names: list

    def render(self, context, nested=False):
        values = {name: expression.resolve(context) for name, expression in self.extra_context.items()}
        if self.counter is not None:
            count = self.counter.resolve(context)
            if not isinstance(count, (Decimal, float, int)):
                return super().render(context, nested)  # Django's error for it
            values[self.countervar] = count
            translated = self.forms.get(count)
            if translated is None:
                translated = _plural(self, count)
                if len(self.forms) < 100:
                    self.forms[count] = translated
        else:
            translated = self.translated
        result = translated % _data(self.names, context, values)
        if self.asvar:
            context[self.asvar] = SafeString(result)
            return ""
        return result


def _data(names, context, values):
    """A message's variables rendered as Django's blocktranslate renders them: from `values` (its `with` and
    count), else the context; string_if_invalid for a missing one."""
    data = {}
    for name in names:
        value = values[name] if name in values else context.get(name, _MISSING)
        if value is _MISSING:
            invalid = context.template.engine.string_if_invalid
            value = invalid % name if "%s" in invalid else invalid
        data[name] = render_value_in_context(value, context)
    return data


def _plural(node, count):
    singular, plural = node.messages
    if node.message_context:
        return translation.npgettext(_text(node.message_context), singular, plural, count)
    return translation.ngettext(singular, plural, count)


_MISSING = object()


class FixedURLNode(URLNode):
    """A `{% url "name" %}` (positional arguments allowed), its addresses kept per script prefix, URLconf, current
    app and argument values (and language: each language has its own copy of the template). Arguments other
    than numbers and strings go to Django's tag."""

    urls: dict

    def render(self, context):
        args = tuple(arg.resolve(context) for arg in self.args)
        if not all(type(arg) in (int, str) for arg in args):
            return super().render(context)
        request = getattr(context, "request", None)
        try:
            current_app = request.current_app
        except AttributeError:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        urlconf = get_urlconf()  # as Django's tag reverses: the thread's URLconf, else ROOT_URLCONF
        key = (get_script_prefix(), urlconf, settings.ROOT_URLCONF, current_app, args)  # the language: the template's
        url = self.urls.get(key)
        if url is None:
            try:
                url = reverse(_text(self.view_name), args=args, urlconf=urlconf, current_app=current_app)
            except NoReverseMatch:
                return super().render(context)
            if len(self.urls) >= 4096:  # one address per order on an order's pages: bounded
                self.urls.clear()
            self.urls[key] = url
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


class KeptStaticNode(StaticNode):
    """A `{% static "path" %}`, its address kept per script prefix (the same for every language)."""

    def render(self, context):
        key = (_text(self.path), get_script_prefix())
        url = _static_urls.get(key)
        if url is None:
            if len(_static_urls) >= 1000:  # script prefixes come from the server's configuration; bounded anyway
                _static_urls.clear()
            url = _static_urls[key] = self.handle_simple(key[0])
        return conditional_escape(url) if context.autoescape else url


_static_urls = {}  # (path, script prefix) -> address: as many as the templates name


@receiver(setting_changed)
def _forget_static_urls(*, setting, **kwargs):
    """A test that changes where static files are served from gets the new addresses."""
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES", "STATICFILES_DIRS", "DEBUG", "INSTALLED_APPS"):
        _static_urls.clear()
