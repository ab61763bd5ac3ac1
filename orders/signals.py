"""What the orders app tells whoever listens (ops/ counts it in its metrics), without importing them."""

from django.dispatch import Signal

# An order email the broker did not take at hand-over (the sweep hands it over later). Sent with `kind`.
email_handover_failed = Signal()

# An order email sent (its server said so). Sent with `kind` and `seconds`: from the moment it was owed.
email_sent = Signal()
