from django import template
from django.utils.translation import gettext as _

from core.reversing import kept_reverse

register = template.Library()


@register.inclusion_tag("_breadcrumbs.html")
def breadcrumbs(*steps):
    """The trail from Home to this page: `steps` are pages with get_absolute_url (a category, a product) or,
    for the last, its label; the last is this page, marked aria-current and not linked."""
    crumbs = [{"label": _("Home"), "url": kept_reverse("shop:product_list")}]
    crumbs += [{"label": str(step), "url": getattr(step, "get_absolute_url", lambda: None)()} for step in steps]
    return {"crumbs": crumbs}
