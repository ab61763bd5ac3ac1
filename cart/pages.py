"""What other apps add to the cart page: sections of HTML below the cart (say, what goes with its items)."""

_sections = []


def add_section(render):
    """Show `render(request, cart)`, an HTML string ("" for nothing), below a cart with items, in the order added."""
    if render not in _sections:
        _sections.append(render)


def sections(request, cart):
    """The HTML of every section for this cart's page, the empty ones left out."""
    return [html for html in (render(request, cart) for render in _sections) if html]
