"""Work that runs once the response has gone to the browser, not while the shopper waits for it.

The checkout hands its confirmation email to the broker after the order commits; with publisher confirms
that is a round trip to RabbitMQ, and up to CELERY_BROKER_CONNECTION_TIMEOUT while the broker is down. The
shopper needs neither: the order and the email it owes are committed already. `after_response(callback)`
inside a request runs the callback when the response is closed, which the WSGI server does once it has
written the response (gunicorn calls close() even when the browser has gone); outside a request (the admin's
bulk actions run their own, a shell, a worker) it runs at once.

A web process killed between writing the response and closing it leaves the email owed, and the sweep hands
it over after ORDER_EMAIL_REQUEUE_AFTER_SECONDS: the same window as a process killed right after the commit.

The shop's gunicorn runs sync workers, which close every connection after its response. With keep-alive
(gthread workers), the browser's next request on the same connection (the page's stylesheet) waits for the
hand-over to finish: the page is shown, its styles may come up to CELERY_BROKER_CONNECTION_TIMEOUT later.
"""

import logging
import threading

logger = logging.getLogger(__name__)
_pending = threading.local()


def after_response(callback):
    """Run `callback` (which must not raise) after the current response is sent; at once outside a request."""
    callbacks = getattr(_pending, "callbacks", None)
    if callbacks is None:
        callback()
    else:
        callbacks.append(callback)


def _run(callbacks):
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one failing must not skip the others, nor surface in the server's close()
            logger.exception("work after the response failed")


class AfterResponseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _pending.callbacks = callbacks = []
        try:
            response = self.get_response(request)
        finally:
            _pending.callbacks = None
        if callbacks:
            response._resource_closers.append(lambda: _run(callbacks))
        return response
