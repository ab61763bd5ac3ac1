"""One CSRF token per page: Django's get_token() masks the secret anew on every call (32 random draws, about
40 µs), and a page whose panels are rendered apart from it asked twice (bench/RESULTS.md)."""

from django.middleware.csrf import get_token
from django.utils.functional import SimpleLazyObject


def page_token(request):
    """The masked CSRF token of this request, made once per secret (a login rotates the secret)."""
    kept = getattr(request, "_page_csrf_token", None)
    if kept is None or kept[0] != request.META.get("CSRF_COOKIE"):
        token = get_token(request)
        kept = request._page_csrf_token = (request.META.get("CSRF_COOKIE"), token)
    return kept[1]


def context_processor(request):
    """`csrf_token` for templates, as Django's own processor gives it, from page_token()."""
    return {"csrf_token": SimpleLazyObject(lambda: page_token(request))}
