"""Status-page links are keys to an order (name, address): logs show them masked."""

import logging
import re

# /orders/<uuid>/, with or without the dashes, in any case.
STATUS_TOKEN = re.compile(r"(/orders/)[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")


def mask_status_tokens(text):
    """`text` with the token of every status-page path replaced by <token>."""
    return STATUS_TOKEN.sub(r"\1<token>", text)


class MaskStatusTokens(logging.Filter):
    """A logging filter for the app's log handler: Django's request warnings name the path ("Forbidden (CSRF
    cookie not set.): /orders/<token>/")."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it, as it would without this filter
            return True
        masked = mask_status_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
