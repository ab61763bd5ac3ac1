from .cart import Cart


def cart(request):
    """The cart, for the header's item count and total on every page (queried only if a page uses it)."""
    return {"cart": Cart(request.session)} if hasattr(request, "session") else {}
