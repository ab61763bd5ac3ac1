"""What a page the test client got says, for tests that check where a shopper ended up."""

from orders.models import Order
from testkit.shopper import placed_order_number


def thank_you_order(response):
    """The order shown when `response` is the thank-you page (status 200, no redirect), else None.

    The checkout form's answer is the thank-you page itself; /orders/created/ shows it again afterwards.
    Read from the page, not the template context: requests racing in threads share the test client's signals.
    """
    number = placed_order_number(response.status_code, response.content.decode())
    return Order.objects.get(number=number) if number else None
