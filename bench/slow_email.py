"""A mail backend that takes BENCH_EMAIL_DELAY seconds (default 2) per message and sends nothing.

bench/checkout.py points the Celery worker at it (EMAIL_BACKEND=bench.slow_email.SlowEmailBackend) to show
that a slow mail server costs the checkout request nothing: the request only hands the email to the broker.
Nothing here is used by the shop itself.
"""
import os
import time

from django.core.mail.backends.dummy import EmailBackend as DummyEmailBackend

DEFAULT_DELAY = 2.0


class SlowEmailBackend(DummyEmailBackend):
    """Like Django's dummy backend (the messages go nowhere), but each one takes `delay` seconds."""

    def __init__(self, *args, delay=None, **kwargs):
        super().__init__(*args, **kwargs)
        if delay is None:
            delay = float(os.environ.get("BENCH_EMAIL_DELAY", DEFAULT_DELAY))
        self.delay = max(0.0, float(delay))

    def send_messages(self, email_messages):
        messages = list(email_messages)
        for _ in messages:
            time.sleep(self.delay)  # a slow SMTP conversation: the worker waits, the CPU does not
        return len(messages)
