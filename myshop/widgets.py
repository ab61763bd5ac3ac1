"""Form inputs rendered in Python instead of through Django's widget templates.

The markup is exactly that of django/forms/widgets/input.html with attrs.html (the same attributes, in the
same order, escaped alike, aria-invalid and aria-describedby included), at a fraction of the cost: the
checkout page renders seven inputs, and each went through two templates, a tenth of the web tier's time.
tests/test_widgets.py holds every one to the template's output.
"""

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


class PythonRenderedInput:
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        html = [f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"']
        if widget["value"] is not None:
            html.append(f' value="{conditional_escape(str(widget["value"]))}"')
        for attribute, setting in widget["attrs"].items():
            if setting is True:
                html.append(f" {conditional_escape(attribute)}")
            elif setting is not False:
                html.append(f' {conditional_escape(attribute)}="{conditional_escape(str(setting))}"')
        html.append(">")
        return mark_safe("".join(html))  # noqa: S308  (every part escaped above)


class TextInput(PythonRenderedInput, forms.TextInput):
    pass


class EmailInput(PythonRenderedInput, forms.EmailInput):
    pass


class NumberInput(PythonRenderedInput, forms.NumberInput):
    pass


class HiddenInput(PythonRenderedInput, forms.HiddenInput):
    pass
