"""What the orders app announces, for the apps above it to act on (payments, ops), without importing them."""

from django.dispatch import Signal

# Orders moved to another status, inside the transaction that moved them (a receiver's error rolls it back).
# Sent with `order_ids` (those that moved) and `status` (where to).
order_status_changed = Signal()

# An order email the broker did not take when it was published (the sweep publishes it later). With `kind`.
email_publish_failed = Signal()

# An order email sent (its server said so). Sent with `kind` and `seconds`: from the moment it was owed.
email_sent = Signal()
