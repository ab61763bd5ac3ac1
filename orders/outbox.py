"""The outbox: the emails orders owe their customers, published to the worker and sent at most once each.

One `OrderEmail` row per email, added in the transaction that makes the email due. Once that commits, the
email is published to the broker (`order_created.delay(order.id)`: only the id travels). The row, not the
broker, remembers that the email is owed, so whatever the broker loses the sweep publishes again. A worker
sends an email only while it holds the row's claim, a lease it renews while sending. Every time is the
database's clock. docs/guarantees.md says which test proves each rule.
"""

import enum
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from core.publishing import ConfirmBoundedTask

from .emails import KINDS
from .models import OrderEmail
from .signals import email_publish_failed, email_sent

logger = logging.getLogger(__name__)

State = OrderEmail.State


def seconds_from_now(seconds):
    """The database's now plus `seconds`, as an expression."""
    return Now() + timedelta(seconds=seconds)


# The three statements every email runs (add, claim, mark_sent) are written out: through the ORM, building
# them cost more CPU than sending (docs/decisions/outbox-statements.md). They need the database's clock.
TABLE = OrderEmail._meta.db_table


def _clock(seconds=0):
    """SQL for the database's now, and for now plus `seconds` (a number, written into the SQL), as Now() gives."""
    if connection.vendor == "postgresql":
        return "STATEMENT_TIMESTAMP()", f"STATEMENT_TIMESTAMP() + INTERVAL '{float(seconds)} seconds'"
    sqlite_now = "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW'{})"
    return sqlite_now.format(""), sqlite_now.format(f", '+{float(seconds)} seconds'")


def _as_datetime(value):
    """A timestamp read through a cursor: PostgreSQL gives a datetime, SQLite the text Django stores."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value


# --- Adding and publishing ----------------------------------------------------------------------------


def add(order_id, kind):
    """Record, in the caller's transaction, that order `order_id` owes its customer the `kind` email.

    Publishing it is the caller's, once the transaction commits (`publish_on_commit`). Adding an email the
    order already owes changes nothing: one email of each kind per order.
    """
    if kind not in KINDS:
        raise ValueError(f"no email kind {kind!r} is declared")
    now, requeue = _clock(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (order_id, kind, state, attempts, created, queued_at, due_at, claimed_by, "
            f"last_error) VALUES (%s, %s, %s, 0, {now}, {now}, {requeue}, '', '') "
            "ON CONFLICT (order_id, kind) DO NOTHING",
            [order_id, kind, State.PENDING],
        )


def mark_due(order_id, kind):
    """Let the next sweep publish this email again (publishing it failed). Never raises."""
    try:
        OrderEmail.objects.filter(order_id=order_id, kind=kind, state__in=[State.PENDING, State.SENDING]).update(
            due_at=Now()
        )
    except Exception:  # the database is gone too: the email still falls due, one requeue period later
        logger.exception("order %s: could not record that its %s email is due", order_id, kind)


class EmailTask(ConfirmBoundedTask):
    """A task that sends one kind of order email; `delay(order_id)` publishes it and never raises.

    The order has committed by the time its email is published: a broker or database failure here must not
    fail the request (or skip the next order of a bulk action). The email stays owed, due at once, and the
    sweep publishes it when the broker is back.
    """

    abstract = True
    email_kind = None  # the name of the EmailKind the task sends

    def delay(self, order_id):
        try:
            return self.apply_async((order_id,))
        except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
            logger.warning("order %s: %s email not published to the broker; the sweep will", order_id, self.email_kind)
            mark_due(order_id, self.email_kind)
            email_publish_failed.send(sender=type(self), kind=self.email_kind)
            return None


def publish(order_id, kind):
    """Publish order `order_id`'s `kind` email to the broker; True if the broker took it. Never raises."""
    return KINDS[kind].task.delay(order_id) is not None


def publish_on_commit(order_ids, kind):
    """Publish these orders' `kind` emails once the current transaction commits, each on its own."""
    for order_id in order_ids:
        transaction.on_commit(lambda order_id=order_id: publish(order_id, kind))


@transaction.atomic
def resend(*, order_ids, kind):
    """Make these orders' `kind` emails owed again and publish them (an operator's choice); return the ids.

    An email a worker is sending right now is left alone (resetting it would let a second worker send it),
    and so is one the order never owed.
    """
    being_sent = Q(state=State.SENDING, claim_expires_at__gt=Now())
    emails = OrderEmail.objects.filter(order_id__in=order_ids, kind=kind).exclude(being_sent)
    resent = list(emails.select_for_update().values_list("order_id", flat=True))
    OrderEmail.objects.filter(order_id__in=resent, kind=kind).exclude(being_sent).update(
        state=State.PENDING,
        attempts=0,
        claimed_at=None,
        claim_expires_at=None,
        claimed_by="",
        queued_at=Now(),
        due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS),
    )
    publish_on_commit(resent, kind)
    return resent


def sweep(*, limit=500):
    """Publish again every owed email the broker may not hold; return [(order_id, kind)] published.

    Owed and due: never published (the broker was down), published a requeue period ago and still not sent
    (a lost message, a retry that could not be published), or held by a claim that lapsed (a dead worker)
    for as long. Each is published at most once per ORDER_EMAIL_REQUEUE_AFTER_SECONDS, and two sweeps at once
    (two beats by mistake) never take the same email: rows are taken under a lock that skips rows another
    sweep holds, and pushed a period ahead before they are published.
    """
    with transaction.atomic():
        due = list(
            OrderEmail.objects.filter(due_at__lte=Now())
            .filter(Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now()))
            .order_by("due_at")
            .select_for_update(skip_locked=True)
            .values_list("id", "order_id", "kind")[:limit]
        )
        OrderEmail.objects.filter(id__in=[row[0] for row in due]).update(
            queued_at=Now(), due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
        )
    swept = []
    for position, (_, order_id, kind) in enumerate(due):
        if not publish(order_id, kind):
            # The broker is gone again: what is left is due at once, and the next sweep carries on.
            for _, later_order_id, later_kind in due[position + 1 :]:
                mark_due(later_order_id, later_kind)
            break
        swept.append((order_id, kind))
    return swept


# --- The worker's side: claims ------------------------------------------------------------------------


class Claimed(enum.Enum):
    """What came of trying to claim an email."""

    TAKEN = "taken"  # send it now, renewing the lease
    DONE = "done"  # sent, unconfirmed, failed, or never owed: send nothing
    BUSY = "busy"  # another holder's lease is live: try again after `wait_seconds`
    EXHAUSTED = "exhausted"  # every attempt was spent, the last ones never finishing: now failed
    MISSING = "missing"  # no such email (an unknown order)


@dataclass
class Claim:
    """The outcome of trying to take an email; when `outcome` is TAKEN, the right to send it."""

    outcome: Claimed
    order_id: int
    kind: str
    holder: str = ""
    wait_seconds: float = 0.0  # BUSY: until the other holder's lease lapses

    def _row(self):
        return OrderEmail.objects.filter(order_id=self.order_id, kind=self.kind)

    def _mine(self):
        return self._row().filter(state=State.SENDING, claimed_by=self.holder)

    def mark_sent(self):
        """Record the email as sent; False if this claim was no longer held (a lapsed lease)."""
        now, _ = _clock()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} SET state = %s, sent_at = {now}, claim_expires_at = NULL, last_error = '' "
                "WHERE order_id = %s AND kind = %s AND state = %s AND claimed_by = %s RETURNING created, sent_at",
                [State.SENT, self.order_id, self.kind, State.SENDING, self.holder],
            )
            row = cursor.fetchone()
        if row is None:
            return False
        owed, sent = (_as_datetime(value) for value in row)
        email_sent.send(sender=Claim, kind=self.kind, seconds=max(0.0, (sent - owed).total_seconds()))
        return True

    def mark_unconfirmed(self, error):
        """The server got the message and its answer was lost: sent, unconfirmed, not retried by itself."""
        return bool(
            self._mine().update(state=State.UNCONFIRMED, sent_at=Now(), claim_expires_at=None, last_error=error[:1000])
        )

    def mark_failed(self, error):
        """No more attempts: an operator may resend it from the admin."""
        return bool(self._mine().update(state=State.FAILED, claim_expires_at=None, last_error=error[:1000]))

    def release(self, error):
        """Give the email back, its attempt counted, to be tried again later."""
        return bool(self._mine().update(state=State.PENDING, claim_expires_at=None, last_error=error[:1000]))

    def release_uncounted(self, error):
        """Give the email back as if this attempt had never begun (nothing was tried: the database failed)."""
        return bool(
            self._mine().update(
                state=State.PENDING, claim_expires_at=None, last_error=error[:1000], attempts=F("attempts") - 1
            )
        )

    def attempts_started(self):
        """How many attempts have started, this one included."""
        return self._row().values_list("attempts", flat=True).first() or 0

    def renew(self):
        """Push the lease forward; False if it was no longer held."""
        return bool(self._mine().update(claim_expires_at=seconds_from_now(settings.ORDER_EMAIL_CLAIM_SECONDS)))

    @contextmanager
    def renewing(self):
        """Keep this claim's lease alive while the block runs (from a thread: the block may be blocked in I/O)."""
        _renewals.hold(self)
        try:
            yield self
        finally:
            _renewals.release(self)


def holder_name(task_id):
    """Who holds a claim, for operators and logs: the task, host and process, plus a unique part."""
    return f"{task_id or '-'} {socket.gethostname()}:{os.getpid()} {uuid.uuid4().hex[:8]}"


def claim(order_id, kind, *, task_id=None):
    """Take the right to send order `order_id`'s `kind` email, counting the attempt as it starts.

    One conditional UPDATE is the claim: whoever else tries at the same moment, one wins. A lapsed lease
    belongs to a dead holder and may be taken over.
    """
    holder = holder_name(task_id)
    now, lease = _clock(settings.ORDER_EMAIL_CLAIM_SECONDS)
    statement = (
        f"UPDATE {TABLE} SET state = %s, attempts = attempts + 1, claimed_at = {now}, claimed_by = %s, "
        f"claim_expires_at = {lease} WHERE order_id = %s AND kind = %s AND attempts < %s "
        f"AND (state = %s OR (state = %s AND claim_expires_at <= {now}))"
    )
    params = [State.SENDING, holder, order_id, kind, settings.ORDER_EMAIL_MAX_ATTEMPTS, State.PENDING, State.SENDING]
    for _ in range(3):  # a row that changes between the two statements below is looked at again
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            if cursor.rowcount:
                return Claim(Claimed.TAKEN, order_id, kind, holder)
        refused = why_not_claimed(OrderEmail.objects.filter(order_id=order_id, kind=kind))
        if refused is not None:
            return Claim(refused[0], order_id, kind, wait_seconds=refused[1])
    return Claim(Claimed.BUSY, order_id, kind, wait_seconds=1.0)


def why_not_claimed(emails):
    """(Claimed outcome, seconds to wait) for a refused claim on the one row `emails` selects (an order's
    email, or any row with the outbox's fields: accounts.outbox); None when it has just become claimable."""
    row = emails.annotate(now=Now()).values("state", "attempts", "claim_expires_at", "now").first()
    if row is None:
        return Claimed.MISSING, 0.0
    if row["state"] == State.SENDING and row["claim_expires_at"] and row["claim_expires_at"] > row["now"]:
        return Claimed.BUSY, (row["claim_expires_at"] - row["now"]).total_seconds()
    if row["state"] in (State.PENDING, State.SENDING):
        # Claimable but out of attempts: the last ones were killed before they could count as failed.
        claimable = Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now())
        gave_up = emails.filter(claimable, attempts__gte=settings.ORDER_EMAIL_MAX_ATTEMPTS).update(
            state=State.FAILED,
            claim_expires_at=None,
            last_error=f"gave up after {row['attempts']} attempts; the last did not finish (worker killed or "
            "over its time limit)",
        )
        return (Claimed.EXHAUSTED, 0.0) if gave_up else None
    return Claimed.DONE, 0.0


class _Renewals:
    """One thread per process renews the leases of the claims the process holds, every third of a lease.
    (A thread per email cost more CPU than the email's statements.)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.held = {}  # id(claim) -> [claim, monotonic time of its last renewal]
        self.wake = threading.Event()
        self.thread, self.pid = None, None

    def hold(self, held_claim):
        with self.lock:
            self.held[id(held_claim)] = [held_claim, time.monotonic()]
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                # First use in this process (a pool child forked from its parent has no threads).
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="claim-renewals", daemon=True)
                self.thread.start()

    def release(self, held_claim):
        with self.lock:
            self.held.pop(id(held_claim), None)

    def _due(self):
        interval = settings.ORDER_EMAIL_CLAIM_SECONDS / 3
        with self.lock:
            due = [entry for entry in self.held.values() if time.monotonic() - entry[1] >= interval]
            for entry in due:
                entry[1] = time.monotonic()
        return [entry[0] for entry in due]

    def _run(self):
        while True:
            self.wake.wait(min(1.0, settings.ORDER_EMAIL_CLAIM_SECONDS / 6))
            for held_claim in self._due():
                try:
                    if not held_claim.renew():
                        logger.warning(
                            "order %s: lost the claim on its %s email while sending it",
                            held_claim.order_id,
                            held_claim.kind,
                        )
                        self.release(held_claim)
                except Exception:  # the database blinked: the next round tries again
                    logger.warning(
                        "order %s: could not renew the claim on its %s email", held_claim.order_id, held_claim.kind
                    )
                finally:
                    close_old_connections()


_renewals = _Renewals()
