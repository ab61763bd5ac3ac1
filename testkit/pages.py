"""What a page the test client got says: where a shopper ended up, and whether an outage was answered kindly."""

import logging

from orders.models import Order
from testkit.shopper import placed_order_number


def thank_you_order(response):
    """The order shown when `response` is the thank-you page (status 200, no redirect), else None.

    The checkout form's answer is the thank-you page itself; /orders/created/ shows it again afterwards.
    Read from the page, not the template context: requests racing in threads share the test client's signals.
    """
    number = placed_order_number(response.status_code, response.content.decode())
    return Order.objects.get(number=number) if number else None


def assert_friendly_503(response, caplog, logged="database unavailable"):
    """The site's own 503 page with Retry-After, never a traceback; one log line (`logged`), no stack trace."""
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert "back in a moment" in page and 'href="/static/css/base.css"' in page  # the site's layout
    assert "Traceback" not in page and "OperationalError" not in page
    problems = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(problems) == 1 and problems[0].exc_info is None, [r.getMessage() for r in problems]
    assert logged in problems[0].getMessage()
