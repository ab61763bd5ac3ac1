"""The site's own error pages: 503 while the database or cache is away, 500, and an expired form's 403."""

import logging
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import i18n
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .logmask import mask_status_tokens

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Redis, the shared cache: it holds the sessions (the cart, the checkout's keys) when CACHE_URL is set.
CACHE_ERRORS = (ConnectionInterrupted, RedisConnectionError, RedisTimeoutError)  # django-redis wraps redis-py's
OUTAGE_ERRORS = DATABASE_ERRORS + CACHE_ERRORS
RETRY_AFTER_SECONDS = 10


def service_unavailable(request, error):
    """503 with Retry-After for a request that failed for want of the database or the cache; one log line."""
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    logger.warning(
        "%s unavailable: %s %s answered 503 (%s: %s)",
        "cache" if isinstance(error, CACHE_ERRORS) else "database",
        request.method,
        mask_status_tokens(request.path),
        type(error).__name__,
        first_line,
    )
    # No request context: the context processors (cart, user) would query the database.
    response = HttpResponse(render_to_string("503.html", {"shop_name": settings.SHOP_NAME}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # Django's request logger would add an error line for the 503
    return response


def server_error(request):
    """handler500: the 503 page for an outage raised outside a view (saving the session), else the 500 page,
    built from settings alone: the database or session may be what failed."""
    error = sys.exc_info()[1]
    if isinstance(error, OUTAGE_ERRORS):
        return service_unavailable(request, error)
    context = {"shop_name": settings.SHOP_NAME, "shop_contact_email": settings.SHOP_CONTACT_EMAIL}
    return HttpResponseServerError(loader.get_template("500.html").render(context))


def csrf_failure(request, reason=""):
    """403 for a form whose CSRF check failed (an expired or missing cookie): say so, offer to try again on
    the page the form was on, when the browser said which one and it is ours."""
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    retry_url = referer if referer and safe else reverse("cart:cart_detail")
    return render(request, "403_csrf.html", {"retry_url": retry_url}, status=403)


def set_language(request):
    """The language switch: Django's set_language, run with the language of the page it returns to active.
    Django's translate_url() resolves that page in the active language only, which on this unprefixed URL is the
    cookie's or the browser's: when that differs from the page's prefix it gave the page back untranslated, and
    a shopper who pressed "English" on /de/cart/ (with a German browser, or German chosen before) stayed there."""
    next_url = request.POST.get("next", request.GET.get("next")) or ""
    page_language = translation.get_language_from_path(urlsplit(next_url).path)
    with translation.override(page_language or translation.get_language()):
        return i18n.set_language(request)
