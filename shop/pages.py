"""What other apps add to the product page: sections of HTML below the product (say, what is bought with it)."""

_product_sections = []


def add_product_section(render):
    """Show `render(request, product)`, an HTML string ("" for nothing), below every product, in the order added."""
    if render not in _product_sections:
        _product_sections.append(render)


def product_sections(request, product):
    """The HTML of every section for `product`'s page, the empty ones left out."""
    return [html for html in (render(request, product) for render in _product_sections) if html]
