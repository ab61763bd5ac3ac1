"""Work that runs once the response has gone to the browser, not while the shopper waits for it.

The checkout publishes its confirmation email after the order commits; with publisher confirms that is a round
trip to RabbitMQ, and up to CELERY_BROKER_CONNECTION_TIMEOUT while the broker is down. The shopper needs
neither: the order and the email it owes are committed already. `after_response(callback)` inside a request
runs the callback on Django's `request_finished` signal, which fires when the WSGI server closes the response
after writing it (gunicorn does so even when the browser has gone); outside a request (a shell, a worker) it
runs at once. A process killed in between leaves the email owed, for the sweep (docs/guarantees.md).
"""

import logging
import threading

from django.core.signals import request_finished

logger = logging.getLogger(__name__)
_pending = threading.local()


def after_response(callback):
    """Run `callback` (which must not raise) after the current response is sent; at once outside a request."""
    callbacks = getattr(_pending, "callbacks", None)
    if callbacks is None:
        callback()
    else:
        callbacks.append(callback)


def _run_pending(**kwargs):
    callbacks, _pending.callbacks = getattr(_pending, "callbacks", None), None
    for callback in callbacks or ():
        try:
            callback()
        except Exception:  # one failing must not skip the others, nor surface in the server's close()
            logger.exception("work after the response failed")


request_finished.connect(_run_pending, dispatch_uid="core.after_response")


class AfterResponseMiddleware:
    """Collects the request's after_response work, to run when its response is closed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _run_pending()  # left by a response that was never closed: run it now rather than lose it
        _pending.callbacks = []
        return self.get_response(request)
