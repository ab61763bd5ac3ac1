"""The renderer of the shop's own forms (checkout, cart): Django's widget templates, rendered by Jinja2 (input and
select: ours, writing the same markup in one template each).

The checkout page renders seven inputs, each through two of Django's widget templates: with Django's engine
that was a ninth of the web tier's work per order, with Jinja2 a third of that (bench/RESULTS.md). The admin
keeps Django's renderer: only forms that name this one use it.
"""

from pathlib import Path

import django.forms
from django.forms.renderers import Jinja2
from django.utils.functional import cached_property


class Renderer(Jinja2):
    """Django's Jinja2 renderer, with core/jinja2 before Django's own templates: its input and select write their
    attributes and options in place, where Django's include a template for each of them (the country list took
    half the checkout form's rendering; bench/RESULTS.md). tests/core/test_form_rendering.py holds them to
    rendering what Django's do."""

    @cached_property
    def engine(self):
        dirs = [Path(__file__).parent / "jinja2", Path(django.forms.__file__).parent / "jinja2"]
        return self.backend({"APP_DIRS": False, "DIRS": dirs, "NAME": "djangoforms", "OPTIONS": {}})


RENDERER = Renderer()  # one instance for the process: it compiles each template once
