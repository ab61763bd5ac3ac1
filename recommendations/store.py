"""The Redis side: one sorted set per product (the products bought with it, scored by the number of orders
holding both), a bitmap of the orders counted, and the atomic scripts that count an order and swap a rebuild in.

Keys, under RECOMMENDATIONS_KEY_PREFIX: `<prefix>:bought-with:<product id>`, `<prefix>:counted-orders` (bit
n set: order n is counted) and `<prefix>:products` (the ids that have a set, for the swap to find stale ones).
"""

import functools
import uuid

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

# Errors that mean "Redis is away or slow": callers fall back (pages) or retry (the worker).
RedisUnavailable = redis.RedisError

# The order's bit and its pairs change together or not at all: a second delivery finds the bit set and adds
# nothing. KEYS: the bitmap, the product registry, then one set per product; ARGV: the order id, then the
# product ids in the same order as their sets.
_COUNT = """
if redis.call('SETBIT', KEYS[1], ARGV[1], 1) == 1 then return 0 end
for i = 3, #KEYS do
  for j = 2, #ARGV do
    if j ~= i - 1 then redis.call('ZINCRBY', KEYS[i], 1, ARGV[j]) end
  end
  redis.call('SADD', KEYS[2], ARGV[i - 1])
end
return 1
"""

# One step from the old sets to the rebuilt ones: sets no longer rebuilt are deleted, the rebuilt ones renamed
# over the live ones (losing the expiry that guarded them while they were built). The set names are made
# inside the script, from the registries, so no count can slip in between: standalone Redis only.
# KEYS: live bitmap, live registry, new bitmap, new registry; ARGV: live set prefix, new set prefix.
_SWAP = """
local fresh = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do fresh[id] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not fresh[id] then redis.call('DEL', ARGV[1] .. id) end
end
local swapped = 0
for id, _ in pairs(fresh) do
  redis.call('RENAME', ARGV[2] .. id, ARGV[1] .. id)
  redis.call('PERSIST', ARGV[1] .. id)
  swapped = swapped + 1
end
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i + 2]) == 1 then
    redis.call('RENAME', KEYS[i + 2], KEYS[i])
    redis.call('PERSIST', KEYS[i])
  else
    redis.call('DEL', KEYS[i])
  end
end
return swapped
"""

BUILD_EXPIRY_SECONDS = 3600  # a rebuild that dies leaves nothing behind for longer


def is_configured():
    """Whether a Redis keeps the recommendations (RECOMMENDATIONS_REDIS_URL, or the Redis cache's)."""
    return bool(settings.RECOMMENDATIONS_REDIS_URL)


@functools.cache
def _client(url, timeout):
    # No retries: a page waits one timeout at most, and the worker retries through the broker.
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def client(*, for_page):
    """The Redis client, with the page's short timeouts or the worker's longer ones (one pool per process)."""
    timeout = settings.RECOMMENDATIONS_PAGE_TIMEOUT if for_page else settings.RECOMMENDATIONS_WORKER_TIMEOUT
    return _client(settings.RECOMMENDATIONS_REDIS_URL, timeout)


class Keys:
    """The key names under one prefix: the live ones, or a rebuild's (`Keys.for_rebuild()`)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.counted_orders = f"{prefix}:counted-orders"
        self.products = f"{prefix}:products"
        self.sets = f"{prefix}:bought-with:"

    def bought_with(self, product_id):
        return f"{self.sets}{product_id}"

    @classmethod
    def live(cls):
        return cls(settings.RECOMMENDATIONS_KEY_PREFIX)

    @classmethod
    def for_rebuild(cls):
        return cls(f"{settings.RECOMMENDATIONS_KEY_PREFIX}:rebuild:{uuid.uuid4().hex[:12]}")


def count_order(connection, order_id, product_ids, *, keys=None):
    """Add order `order_id`'s pairs of products, once: True if counted now, False if it was already."""
    keys = keys or Keys.live()
    product_ids = sorted(set(product_ids))
    if len(product_ids) < 2:  # nothing bought together; still marked, so the rebuild's bitmap agrees
        return connection.setbit(keys.counted_orders, order_id, 1) == 0
    sets = [keys.bought_with(product_id) for product_id in product_ids]
    script = connection.register_script(_COUNT)
    return script(keys=[keys.counted_orders, keys.products, *sets], args=[order_id, *product_ids]) == 1


def is_counted(connection, order_id):
    return bool(connection.getbit(Keys.live().counted_orders, order_id))


def bought_with(connection, product_ids, *, limit):
    """{product id: score} of the products bought with any of these, each set's best `limit`, scores summed."""
    keys = Keys.live()
    pipeline = connection.pipeline(transaction=False)
    for product_id in product_ids:
        pipeline.zrevrange(keys.bought_with(product_id), 0, limit - 1, withscores=True)
    scores = {}
    for ranked in pipeline.execute():
        for member, score in ranked:
            scores[int(member)] = scores.get(int(member), 0) + score
    return scores


def write_rebuild(connection, keys, pairs, counted_order_ids, *, chunk=1000):
    """Write a rebuild's sets ({product: {other: orders}}) and bitmap under `keys`, each expiring until swapped."""
    pipeline = connection.pipeline(transaction=False)
    for position, (product_id, others) in enumerate(pairs.items(), 1):
        pipeline.zadd(keys.bought_with(product_id), others)
        pipeline.expire(keys.bought_with(product_id), BUILD_EXPIRY_SECONDS)
        pipeline.sadd(keys.products, product_id)
        if position % chunk == 0:
            pipeline.execute()
    for position, order_id in enumerate(counted_order_ids, 1):
        pipeline.setbit(keys.counted_orders, order_id, 1)
        if position % (chunk * 10) == 0:
            pipeline.execute()
    pipeline.expire(keys.products, BUILD_EXPIRY_SECONDS)
    pipeline.expire(keys.counted_orders, BUILD_EXPIRY_SECONDS)
    pipeline.execute()


def swap_in(connection, rebuilt):
    """Replace the live sets and bitmap by the rebuilt ones in one atomic step; return the sets swapped in."""
    live = Keys.live()
    script = connection.register_script(_SWAP)
    return script(
        keys=[live.counted_orders, live.products, rebuilt.counted_orders, rebuilt.products],
        args=[live.sets, rebuilt.sets],
    )
