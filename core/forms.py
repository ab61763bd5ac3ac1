"""The renderer of the shop's own forms (checkout, cart): Django's widget templates, rendered by Jinja2.

The checkout page renders seven inputs, each through two of Django's widget templates: with Django's engine
that was a ninth of the web tier's work per order, with Jinja2 a third of that (bench/RESULTS.md). The admin
keeps Django's renderer: only forms that name this one use it.
"""

from django.forms.renderers import Jinja2

RENDERER = Jinja2()  # one instance for the process: it compiles each template once
