"""The outbox: the emails orders owe their customers, handed to the worker and sent at most once each.

One `OrderEmail` row per email, written in the transaction that makes the email due. After that commit the
email is handed to the broker (`order_created.delay(order.id)`); the row, not the broker, remembers that it
is owed, so whatever the broker loses the sweep hands over again. A worker sends an email only while it
holds the row's claim: a lease it renews while sending. Every time is the database's clock.

This module knows the tasks by name only: tasks import it, never the other way round.
"""

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

from core.publishing import ConfirmBoundedTask

from .models import OrderEmail
from .signals import email_handover_failed, email_sent

logger = logging.getLogger(__name__)

Kind = OrderEmail.Kind
State = OrderEmail.State

# The task that sends each kind of email (see orders/tasks.py).
TASK_NAMES = {
    Kind.CONFIRMATION: "orders.tasks.order_created",
    Kind.SHIPPING: "orders.tasks.order_shipped",
    Kind.INVOICE: "payments.tasks.invoice_email",
}


def seconds_from_now(seconds):
    """The database's now plus `seconds`, as an expression."""
    return Now() + timedelta(seconds=seconds)


def _clock_sql(seconds):
    """(SQL for the database's now, SQL for now + `seconds`, its parameter): for the two statements every
    email runs (claim, sent), written out because the ORM took more CPU building them than sending took."""
    if connection.vendor == "postgresql":
        return "STATEMENT_TIMESTAMP()", "STATEMENT_TIMESTAMP() + %s * INTERVAL '1 second'", seconds
    now = "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
    return now, "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s)", f"+{seconds} seconds"


def _as_datetime(value):
    """A timestamp read by a raw cursor: PostgreSQL gives a datetime, SQLite the text Django stores."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


# --- Owing and handing over ---------------------------------------------------------------------------


def owe(order_id, kind):
    """Record, inside the caller's transaction, that order `order_id` owes its customer the `kind` email.

    The hand-over to the broker is the caller's, after commit. Owing an email the order already owes
    changes nothing (one email of each kind per order).
    """
    # Written out, as the claim is: the ORM took a millisecond of the checkout's CPU to build this insert.
    now, later, requeue_after = _clock_sql(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {OrderEmail._meta.db_table} (order_id, kind, state, attempts, created, queued_at, due_at, "
            f"claimed_by, last_error) VALUES (%s, %s, %s, 0, {now}, {now}, {later}, '', '') "
            "ON CONFLICT (order_id, kind) DO NOTHING",
            [order_id, kind, State.PENDING, requeue_after],
        )


def due_now(order_id, kind):
    """Let the next sweep hand this email over (its hand-over failed). Never raises."""
    try:
        OrderEmail.objects.filter(order_id=order_id, kind=kind, state__in=[State.PENDING, State.SENDING]).update(
            due_at=Now()
        )
    except Exception:  # the database is gone too: the email still falls due, one requeue period later
        logger.exception("order %s: could not record that its %s email is due", order_id, kind)


class OutboxTask(ConfirmBoundedTask):
    """A task that sends one kind of order email; `delay(order_id)` is its hand-over and never raises.

    The order has committed by the time its email is handed over: a broker or database failure here must
    not fail the request (or skip the next order of a bulk action). The email stays owed, due at once, and
    the sweep hands it over when the broker is back.
    """

    abstract = True
    email_kind = None  # an OrderEmail.Kind, set by each task

    def delay(self, order_id):
        try:
            return self.apply_async((order_id,))
        except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
            logger.warning("order %s: %s email not handed to the broker; the sweep will", order_id, self.email_kind)
            due_now(order_id, self.email_kind)
            email_handover_failed.send(sender=type(self), kind=self.email_kind)
            return None


def hand_over(order_id, kind):
    """Hand order `order_id`'s `kind` email to the broker; True if the broker took it. Never raises."""
    return current_app.tasks[TASK_NAMES[kind]].delay(order_id) is not None


def hand_over_on_commit(order_ids, kind):
    """Hand these orders' `kind` emails over once the current transaction commits, each on its own."""
    for order_id in order_ids:
        transaction.on_commit(lambda order_id=order_id: hand_over(order_id, kind))


@transaction.atomic
def resend(*, order_ids, kind):
    """Make these orders' `kind` emails owed again and hand them over (an operator's choice); return the ids.

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
    hand_over_on_commit(resent, kind)
    return resent


def sweep(*, limit=500):
    """Hand over again every owed email the broker may not hold; return [(order_id, kind)] handed over.

    Owed and due: never handed over (the broker was down), handed over a requeue period ago and still not
    sent (a lost message, a retry that could not be published), or held by a claim that lapsed (a dead
    worker) for as long. Each is handed over at most once per ORDER_EMAIL_REQUEUE_AFTER_SECONDS, and two
    sweeps running at once (two beats by mistake) never take the same email: rows are taken under a lock
    that skips rows another sweep holds, and pushed a period ahead before the hand-over.
    """
    with transaction.atomic():
        due = (
            OrderEmail.objects.filter(due_at__lte=Now())
            .filter(Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now()))
            .order_by("due_at")
            .select_for_update(skip_locked=True)
            .values_list("id", "order_id", "kind")[:limit]
        )
        due = list(due)
        OrderEmail.objects.filter(id__in=[row[0] for row in due]).update(
            queued_at=Now(), due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
        )
    swept = []
    for position, (_, order_id, kind) in enumerate(due):
        if not hand_over(order_id, kind):
            # The broker is gone again: what is left is due at once, and the next sweep carries on.
            for _, later_order_id, later_kind in due[position + 1 :]:
                due_now(later_order_id, later_kind)
            break
        swept.append((order_id, kind))
    return swept


# --- The worker's side: claims ------------------------------------------------------------------------

CLAIMED = "claimed"
DONE = "already-done"
BUSY = "busy"
MISSING = "missing"
EXHAUSTED = "exhausted"


@dataclass
class Claim:
    """The outcome of trying to take an email; when `outcome` is CLAIMED, the right to send it."""

    outcome: str
    order_id: int
    kind: str
    holder: str = ""
    wait_seconds: float = 0.0  # BUSY: until the other holder's lease lapses
    read: list | None = None  # CLAIMED: the objects `claim(reading=...)` read in the claim's statement, if it ran

    def _mine(self):
        return OrderEmail.objects.filter(
            order_id=self.order_id, kind=self.kind, state=State.SENDING, claimed_by=self.holder
        )

    def sent(self):
        """Record the email as sent; False if this claim was no longer held (a lapsed lease)."""
        now, _, _ = _clock_sql(0)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {OrderEmail._meta.db_table} SET state = %s, sent_at = {now}, claim_expires_at = NULL, "
                "last_error = '' WHERE order_id = %s AND kind = %s AND state = %s AND claimed_by = %s "
                "RETURNING created, sent_at",
                [State.SENT, self.order_id, self.kind, State.SENDING, self.holder],
            )
            row = cursor.fetchone()
        if row is None:
            return False
        owed, sent = (_as_datetime(value) for value in row)
        email_sent.send(sender=Claim, kind=self.kind, seconds=max(0.0, (sent - owed).total_seconds()))
        return True

    def unconfirmed(self, error):
        """The server got the message and its answer was lost: sent, unconfirmed, not retried by itself."""
        return bool(
            self._mine().update(state=State.UNCONFIRMED, sent_at=Now(), claim_expires_at=None, last_error=error[:1000])
        )

    def failed(self, error):
        """No more attempts: an operator may resend it from the admin."""
        return bool(self._mine().update(state=State.FAILED, claim_expires_at=None, last_error=error[:1000]))

    def attempts(self):
        """How many attempts have started, this one included."""
        return (
            OrderEmail.objects.filter(order_id=self.order_id, kind=self.kind).values_list("attempts", flat=True).first()
            or 0
        )

    def release(self, error, *, uncount=False):
        """Give the email back to be tried again later; `uncount` when this attempt never really began."""
        changes = {"state": State.PENDING, "claim_expires_at": None, "last_error": error[:1000]}
        if uncount:
            changes["attempts"] = F("attempts") - 1
        return bool(self._mine().update(**changes))

    @contextmanager
    def renewing(self):
        """Keep this claim's lease alive while the block runs (from a thread: the block may be blocked in I/O)."""
        _renewals.hold(self)
        try:
            yield self
        finally:
            _renewals.release(self)

    def renew(self):
        """Push the lease forward; False if it was no longer held."""
        return bool(self._mine().update(claim_expires_at=seconds_from_now(settings.ORDER_EMAIL_CLAIM_SECONDS)))


def holder_name(task_id):
    """Who holds a claim, for operators and logs: the task, host and process, plus a unique part."""
    return f"{task_id or '-'} {socket.gethostname()}:{os.getpid()} {uuid.uuid4().hex[:8]}"


# A filter for the query a claim reads with (`claim(reading=...)`): true only when the claim was taken.
CLAIM_TAKEN = RawSQL("EXISTS (SELECT 1 FROM claim_taken)", (), output_field=BooleanField())


def claim(order_id, kind, *, task_id=None, reading=None):
    """Take the right to send order `order_id`'s `kind` email, counting the attempt as it starts.

    CLAIMED: send it now, renewing the lease (`Claim.renewing`). DONE: sent, unconfirmed, failed, or never
    owed: send nothing. BUSY: another holder's lease is live: try again after `wait_seconds`. EXHAUSTED:
    every attempt was spent, the last ones never finishing (a worker killed while sending): now failed.
    MISSING: no such email (unknown order). A lapsed lease belongs to a dead holder and may be taken over.

    `reading`, a CompiledQuery of the order id filtered on CLAIM_TAKEN: on PostgreSQL it runs in the claim's
    own statement (one round trip fewer per email), and a taken claim's `read` holds its objects; when it
    read nothing (no such rows, or the arguments go through the ORM), `read` is None.
    """
    holder = holder_name(task_id)
    claimable = Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now())
    now, later, lease = _clock_sql(settings.ORDER_EMAIL_CLAIM_SECONDS)
    statement = (  # the conditional UPDATE that is the claim: one winner, whoever else tries at once
        f"UPDATE {OrderEmail._meta.db_table} SET state = %s, attempts = attempts + 1, claimed_at = {now}, "
        f"claimed_by = %s, claim_expires_at = {later} WHERE order_id = %s AND kind = %s AND attempts < %s "
        f"AND (state = %s OR (state = %s AND claim_expires_at <= {now}))"
    )
    params = [
        State.SENDING,
        holder,
        lease,
        order_id,
        kind,
        settings.ORDER_EMAIL_MAX_ATTEMPTS,
        State.PENDING,
        State.SENDING,
    ]
    for _ in range(3):  # a row that changes between the two statements below is looked at again
        read = None
        if reading is not None and connection.vendor == "postgresql":
            read = _claim_reading(reading, statement, params, order_id, kind, holder)
        if read:
            return Claim(CLAIMED, order_id, kind, holder, read=read)
        if read is None:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                if cursor.rowcount:
                    return Claim(CLAIMED, order_id, kind, holder)
        try:
            refused = _why_not_claimed(order_id, kind, claimable, holder)
        except DatabaseError as error:
            if read == []:  # the claim that read nothing may be ours (an order without lines)
                _give_back(order_id, kind, holder, error)
            raise
        if refused is not None:
            return refused
    return Claim(BUSY, order_id, kind, wait_seconds=1.0)


def _claim_reading(reading, statement, params, order_id, kind, holder):
    """The claim's statement with `reading` after it (PostgreSQL): the objects read, none when the claim was
    refused or the order has no lines; or None, when the claim is to run without reading.

    The statement commits before its rows become objects. What fails there gives the claim back uncounted, then
    raises again if it is the database's (the task waits for it: not an attempt), or lets the claim run
    without reading, so that reading the order fails again where the task counts it (a failed attempt).
    """
    try:
        return reading.after(f"WITH claim_taken AS ({statement} RETURNING 1)", params, order_id)
    except Exception as error:
        _give_back(order_id, kind, holder, error)
        if isinstance(error, DatabaseError):
            raise
        return None


def _give_back(order_id, kind, holder, error):
    """Release `holder`'s claim, if it holds one, without counting its attempt; never raises. (In a block of its
    own: a caller's transaction, a test's, stays usable if the database fails this too.)"""
    try:
        with transaction.atomic():
            Claim(CLAIMED, order_id, kind, holder).release(f"{type(error).__name__} while claiming", uncount=True)
    except DatabaseError:
        pass  # the database is gone: the lease lapses instead


def _why_not_claimed(order_id, kind, claimable, holder):
    """Why the claim was refused (a Claim), or None when the email has just become claimable; CLAIMED when it
    was `holder`'s after all (a claim that read nothing with it)."""
    emails = OrderEmail.objects.filter(order_id=order_id, kind=kind)
    row = emails.annotate(now=Now()).values("state", "attempts", "claim_expires_at", "claimed_by", "now").first()
    if row is None:
        return Claim(MISSING, order_id, kind)
    if row["state"] == State.SENDING and row["claimed_by"] == holder:
        return Claim(CLAIMED, order_id, kind, holder)
    if row["state"] == State.SENDING and row["claim_expires_at"] and row["claim_expires_at"] > row["now"]:
        wait = (row["claim_expires_at"] - row["now"]).total_seconds()
        return Claim(BUSY, order_id, kind, wait_seconds=wait)
    if row["state"] in (State.PENDING, State.SENDING):
        # Claimable but out of attempts: the last ones were killed before they could count as failed.
        gave_up = emails.filter(claimable, attempts__gte=settings.ORDER_EMAIL_MAX_ATTEMPTS).update(
            state=State.FAILED,
            claim_expires_at=None,
            last_error=f"gave up after {row['attempts']} attempts; the last did not finish (worker killed or "
            "over its time limit)",
        )
        return Claim(EXHAUSTED, order_id, kind) if gave_up else None
    return Claim(DONE, order_id, kind)


class _Renewals:
    """One thread per process that renews the leases of the claims the process holds, every third of a
    lease. (A thread per email cost more CPU than the email's two queries.)"""

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
