"""Many orders at once, written by PostgreSQL itself (INSERT ... SELECT generate_series): a million orders
with their lines and emails in well under a minute, for scale tests and bench/admin_scale.py.

The rows look like checkout's: each order has a distinct random-looking number in the shop's format, two
lines, a confirmation email (mostly sent; every `failed_every`-th failed, every `unconfirmed_every`-th sent
but unconfirmed) and, once shipped, a shipping notice. Orders are spread evenly over `days` days up to now;
two orders share each email address and about twenty each last name. PostgreSQL only.
"""

from orders.numbers import ALPHABET, GROUP, PREFIX

# Order i's number: i times an odd constant, plus one, modulo 2**40, is a different 40-bit value for every i
# (an odd multiplier is invertible modulo a power of two), written as checkout writes its random numbers.
_NUMBER_BITS = "((i::bigint * 2654435761 + 1) % 1099511627776)"
_NUMBER_SQL = " || ".join(
    [f"'{PREFIX}-'"]
    + [
        f"substr('{ALPHABET}', (({_NUMBER_BITS} >> {5 * (2 * GROUP - 1 - k)}) & 31)::int + 1, 1)"
        + (" || '-'" if k == GROUP - 1 else "")
        for k in range(2 * GROUP)
    ]
)
_STATUS_SQL = (
    "CASE WHEN i % 10 < 3 THEN 'shipped' WHEN i % 10 < 6 THEN 'paid' WHEN i % 10 = 6 THEN 'cancelled' "
    "ELSE 'pending' END"
)


def load_orders(cursor, count, *, product_ids, days=365, failed_every=1000, unconfirmed_every=2000, vacuum=False):
    """Insert `count` orders (lines from `product_ids`, at least two) with their emails; then ANALYZE, or with
    `vacuum` (outside a transaction only) VACUUM ANALYZE: the state autovacuum leaves a table in."""
    seconds_apart = days * 86400 / count
    first, second = product_ids[0], product_ids[1]
    # A schema from before order numbers (a benchmark's "before" run) gets none.
    cursor.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'number'"
    )
    numbered = cursor.fetchone() is not None
    cursor.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'mailbox'"
    )
    mailbox = cursor.fetchone() is not None
    # The discount and shipping columns (orders 0014) are NOT NULL with Django-side defaults only.
    cursor.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'carrier'"
    )
    tracked = cursor.fetchone() is not None
    cursor.execute(f"""
        INSERT INTO orders_order (first_name, last_name, email, address, address_line2, postal_code, city,
                                  country, phone, created, updated,
                                  status, token, subtotal, shipping_cost, total{", number" if numbered else ""}
                                  {", mailbox" if mailbox else ""}
                                  {", discount, coupon_code, carrier, tracking_number" if tracked else ""})
        SELECT (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John'])[i % 8 + 1],
               'Family' || (i % GREATEST({count} / 20, 1)),
               'shopper' || (i / 2) || '@example.com',
               i || ' Analytical Street', '', '10115', 'Berlin', 'DE', '',
               now() - ({count} - i) * interval '{seconds_apart} seconds',
               now() - ({count} - i) * interval '{seconds_apart} seconds',
               {_STATUS_SQL}, gen_random_uuid(), 34.50, 4.90, 39.40{", " + _NUMBER_SQL if numbered else ""}
               {", 'shopper' || (i / 2) || '@example.com'" if mailbox else ""}
               {", 0, '', '', ''" if tracked else ""}
        FROM generate_series(1, {count}) AS i
        ORDER BY i
    """)
    cursor.execute(f"""
        INSERT INTO orders_orderitem (order_id, product_id, price, quantity)
        SELECT id, {first}, 7.00, 2 FROM orders_order
        UNION ALL
        SELECT id, {second}, 20.50, 1 FROM orders_order
    """)
    cursor.execute(f"""
        INSERT INTO orders_orderemail (order_id, kind, state, attempts, created, queued_at, due_at, claimed_by,
                                       sent_at, last_error)
        SELECT id, 'confirmation',
               CASE WHEN id % {failed_every} = 0 THEN 'failed'
                    WHEN id % {unconfirmed_every} = 0 THEN 'unconfirmed' ELSE 'sent' END,
               CASE WHEN id % {failed_every} = 0 THEN 6 ELSE 1 END,
               created, created, created + interval '15 minutes', '',
               CASE WHEN id % {failed_every} = 0 THEN NULL ELSE created + interval '1 second' END,
               CASE WHEN id % {failed_every} = 0 THEN '550 mailbox unavailable' ELSE '' END
        FROM orders_order
        UNION ALL
        SELECT id, 'shipping', 'sent', 1, created, created, created + interval '15 minutes', '',
               created + interval '2 days', ''
        FROM orders_order WHERE status = 'shipped'
    """)
    cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE orders_order, orders_orderitem, orders_orderemail")
