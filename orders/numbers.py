"""Order numbers: what people see and say ("MS-7K4P-Q2XD"); the database id stays internal.

A number is 40 random bits written in Crockford's base32 (digits and capitals without I, L, O and U, so
nothing reads as another character), in two groups of four after the shop's prefix. Random, so it says
nothing about how many orders the shop takes and the next one cannot be guessed from the last. 2**40
numbers leave a new order about one chance in a million of drawing a taken number at a million orders;
placing the order runs again with a new one when it does (orders/services.py).
"""

import re
import secrets

PREFIX = "MS"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP = 4
LENGTH = len(PREFIX) + 2 * GROUP + 2  # "MS-XXXX-XXXX"
# Read loosely, as people type or say it: O for 0, I or L for 1, any case, any separators.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.#/]+")


def new_number():
    """A fresh random order number, e.g. "MS-7K4P-Q2XD" (not checked against existing orders)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(2 * GROUP))
    return f"{PREFIX}-{body[:GROUP]}-{body[GROUP:]}"


def parse_number(text):
    """The order number `text` stands for ("ms 7k4p q2xd", "7K4P-Q2XO"), or None if it cannot be one."""
    compact = _SEPARATORS.sub("", text or "").upper()
    if len(compact) == len(PREFIX) + 2 * GROUP and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    compact = compact.translate(_LOOKALIKES)
    if len(compact) != 2 * GROUP or any(char not in ALPHABET for char in compact):
        return None
    return f"{PREFIX}-{compact[:GROUP]}-{compact[GROUP:]}"
