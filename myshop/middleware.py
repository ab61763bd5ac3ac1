"""Request and response guards for the whole site: request bodies, database outages, the CSP header."""
import codecs
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.shortcuts import render

logger = logging.getLogger(__name__)


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
            return _refuse(request, 400, "Bad request", "This request declares its text as "
                           f"“{charset[:40]}”. The shop reads forms in UTF-8 only.")
        limit = (settings.REQUEST_BODY_MAX_SIZE if request.content_type == "multipart/form-data"
                 else settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if _content_length(request) > limit:
            return _refuse(request, 413, "Request too large",
                           f"This request is too large: the shop accepts at most {_megabytes(limit)} at a time "
                           "(files included). Nothing was saved.")
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
    return f"{size / (1024 * 1024):g} MB"


def _refuse(request, status, title, message):
    return render(request, "request_refused.html", {"title": title, "message": message}, status=status)
