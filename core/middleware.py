"""Request and response guards for the whole site: request bodies, database and cache outages, the CSP header."""

import codecs
import functools
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import gettext as _

from .views import OUTAGE_ERRORS, service_unavailable


class RequestBodyMiddleware:
    """Refuse, before anything reads it, a request body the shop would fail on or must not take.

    - declared in a charset other than UTF-8: 400. (Django raises while the CSRF check reads such a form,
      and again inside its own 400 handler, which gives a 500.) Browsers send forms without a charset;
    - larger than REQUEST_BODY_MAX_SIZE (file uploads) or DATA_UPLOAD_MAX_MEMORY_SIZE (any other body):
      413, without reading a byte of it, so nothing is stored.

    Sits after SessionMiddleware (the answer is a page of the site) and before CsrfViewMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.content_params.get("charset")
        if charset is not None and _codec_name(charset) not in ("utf-8", "ascii"):
            return _refuse(
                request,
                400,
                _("Bad request"),
                _("This request declares its text as “%(charset)s”. The shop reads forms in UTF-8 only.")
                % {"charset": charset[:40]},
            )
        limit = (
            settings.REQUEST_BODY_MAX_SIZE
            if request.content_type == "multipart/form-data"
            else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        )
        if _content_length(request) > limit:
            return _refuse(
                request,
                413,
                _("Request too large"),
                _(
                    "This request is too large: the shop accepts at most %(size)s at a time (files included). "
                    "Nothing was saved."
                )
                % {"size": _megabytes(limit)},
            )
        return self.get_response(request)


def _codec_name(charset):
    try:
        return codecs.lookup(charset.strip()).name
    except LookupError:
        return None


def _content_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _megabytes(size):
    """ "2.5 MB" ("2,5 MB" in German)."""
    return _("%(size)s MB") % {"size": formats.number_format(Decimal(f"{size / (1024 * 1024):g}"))}


def _refuse(request, status, title, message):
    return render(request, "request_refused.html", {"title": title, "message": message}, status=status)


# --- Database and cache outages -----------------------------------------------------------------------------


class LanguagePrefixMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, but a form posted to an address without a language prefix (a tab opened
    before the shop had /en/ and /de/) is sent on with a 307, which the browser repeats as the same POST: a
    302 would make it a GET, and an "Add to cart" or "Place order" would be lost (405, or an empty form)."""

    def process_response(self, request, response):
        answer = super().process_response(request, response)
        if answer is not response and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            answer.status_code = 307  # the same redirect otherwise (its Vary: Accept-Language, Cookie)
        return answer


class OutageMiddleware:
    """While the database or the shared cache is unreachable, answer every request that needs it with a
    friendly 503 page and Retry-After, and one log line, instead of a 500 and a traceback per request.
    Nothing to do to recover: the next request opens a new connection (CONN_HEALTH_CHECKS drops a dead
    persistent database connection first; Redis connections are made again by the client).

    Errors raised by views (and templates) come here; one raised after the view, when the session is saved,
    reaches core.views.server_error (handler500), which answers the same way. Reading a session while Redis is down
    gives an empty one (Django's cache session store), so pages that only read still answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OUTAGE_ERRORS):
            return None
        session = getattr(request, "session", None)
        if session is not None:
            session.modified = False  # saving it would fail again
        return service_unavailable(request, exception)


# --- Content-Security-Policy --------------------------------------------------------------------------------


class ContentSecurityPolicyMiddleware:
    """Send SECURE_CSP as the Content-Security-Policy header of every response that has none.

    Django 5.2 has no CSP of its own; Django 6's middleware reads the same setting in the same shape
    ({directive: [sources]}), so upgrading means swapping this class for django.middleware.csp's.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy()
        return response


@functools.cache
def content_security_policy():
    """The header value for SECURE_CSP; images may also come from MEDIA_URL's host when it has one."""
    directives = {name: list(sources) for name, sources in settings.SECURE_CSP.items()}
    media = urlsplit(settings.MEDIA_URL)
    if media.scheme and media.netloc:
        directives.setdefault("img-src", ["'self'"]).append(f"{media.scheme}://{media.netloc}")
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


@receiver(setting_changed)
def _forget_the_policy(setting, **kwargs):
    if setting in ("SECURE_CSP", "MEDIA_URL"):  # made once per process, again when a test changes them
        content_security_policy.cache_clear()
