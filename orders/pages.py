"""What other apps add to an order's pages (the thank-you page and the status page): panels of HTML; and what
they prefill the checkout form with."""

_panels = []


def add_panel(render):
    """Show `render(request, order, just_placed=...)`, an HTML string, on every order page, in the order added.

    `just_placed` is true on the checkout's own answer, for an order placed by that very request.
    """
    if render not in _panels:
        _panels.append(render)


def panels(request, order, *, just_placed=False):
    """The HTML of every panel for `order`'s page."""
    return [render(request, order, just_placed=just_placed) for render in _panels]


_checkout_initials = []


def add_checkout_initial(initial):
    """Prefill the checkout form with `initial(request)`, a dict of its fields (say, a saved address)."""
    if initial not in _checkout_initials:
        _checkout_initials.append(initial)


def checkout_initial(request):
    """The checkout form's initial values from every app that added some; later ones win."""
    values = {}
    for initial in _checkout_initials:
        values.update(initial(request) or {})
    return values
