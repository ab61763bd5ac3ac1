"""Django's cached template loader, with a compiled copy of each template per language in which what cannot change
while the process runs is worked out once: the translation of fixed text, and addresses without arguments.

Two languages made every page and email dearer to render: each `{% translate "Cart" %}` looked its words up in
the catalogs on every render, each `{% blocktranslate %}` built its message and looked it up, and the pages
gained addresses to reverse (bench/RESULTS.md, "Templates prepared once"). Here, when a template is compiled:

- a `{% translate %}` of a quoted string keeps the words it renders to in that language;
- a `{% blocktranslate %}` without a count keeps its translated message, and fills in its variables per render;
- a `{% url "name" %}` without arguments keeps the address reversed the first time, per script prefix and
  current app (the address of a name changes only with the code).

Tags with a variable, a filter, a count or a context looked up at render time render as Django renders them. The
language is the one active when the template is fetched, which `render()`, `{% extends %}` and `{% include %}`
do as they render: a template object kept and rendered later in another language would keep the first one's
words, so the shop never keeps one (tests/core/test_template_loader.py).
"""

from django.conf import settings
from django.template import Context
from django.template.base import render_value_in_context
from django.template.defaulttags import URLNode
from django.template.loaders import cached
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString


class Loader(cached.Loader):
    def cache_key(self, template_name, skip=None):
        return f"{translation.get_language()}:{super().cache_key(template_name, skip)}"

    def get_template(self, template_name, skip=None):
        template = super().get_template(template_name, skip)
        if not getattr(template, "prepared", False):
            for node in template.nodelist.get_nodes_by_type(TranslateNode):
                if type(node) is TranslateNode and _literal(node.filter_expression) and _literal(node.message_context):
                    _keep_translation(node, template)
            for node in template.nodelist.get_nodes_by_type(BlockTranslateNode):
                if type(node) is BlockTranslateNode and not node.plural and _literal(node.message_context):
                    _keep_message(node)
            for node in template.nodelist.get_nodes_by_type(URLNode):
                if type(node) is URLNode and not node.args and not node.kwargs and _literal(node.view_name):
                    node.__class__, node.urls = FixedURLNode, {}
            template.prepared = True
        return template


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
    node.__class__, node.outputs = KeptTranslationNode, outputs


def _keep_message(node):
    """Look the `{% blocktranslate %}`'s message up once; left to Django if the translation does not format."""
    message, names = node.render_token_list(node.singular)
    if node.message_context:
        translated = translation.pgettext(_text(node.message_context), message)
    else:
        translated = translation.gettext(message)
    try:
        translated % dict.fromkeys(names, "")
    except (KeyError, ValueError, TypeError):
        return
    node.__class__, node.translated, node.names = KeptMessageNode, translated, names


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
    """A `{% blocktranslate %}` without a count, its message translated when its template was compiled."""

    translated: str
    names: list

    def render(self, context, nested=False):
        values = {name: expression.resolve(context) for name, expression in self.extra_context.items()}
        invalid = context.template.engine.string_if_invalid
        with context.push(values):
            data = {
                name: render_value_in_context(
                    context[name] if name in context else (invalid % name if "%s" in invalid else invalid), context
                )
                for name in self.names
            }
        result = self.translated % data
        if self.asvar:
            context[self.asvar] = SafeString(result)
            return ""
        return result


class FixedURLNode(URLNode):
    """A `{% url "name" %}` without arguments, its address kept per script prefix, URLconf and current app (and
    language: each language has its own copy of the template)."""

    urls: dict

    def render(self, context):
        request = getattr(context, "request", None)
        try:
            current_app = request.current_app
        except AttributeError:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        urlconf = getattr(request, "urlconf", None)
        key = (get_script_prefix(), urlconf, settings.ROOT_URLCONF, current_app)  # the language is the template's
        url = self.urls.get(key)
        if url is None:
            try:
                url = reverse(_text(self.view_name), urlconf=urlconf, current_app=current_app)
            except NoReverseMatch:
                return super().render(context)
            self.urls[key] = url
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url
