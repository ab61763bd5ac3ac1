"""The account outbox: allauth's emails, one row each, published to the worker and sent at most once.

The same rules as the order outbox (orders/outbox.py), whose public pieces this reuses: a row written in the
request's transaction, published with only its id once committed, a claim that is a lease renewed while
sending, a sweep for what the broker lost. A table of its own because an account email belongs to no order
(docs/decisions/account-email-outbox.md). Written with the ORM: a few emails a day, not thousands a minute.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import translation

from core.languages import spoken_language
from core.publishing import ConfirmBoundedTask
from orders.outbox import Claim, Claimed, holder_name, seconds_from_now, why_not_claimed

from .models import AccountEmail

logger = logging.getLogger(__name__)
State = AccountEmail.State


def add(*, kind, to, user=None, email_address=None, language=None):
    """Record, in the caller's transaction, the `kind` email owed to `to`, to be written in `language` (by
    default the active one); publishing it once committed is the caller's (accounts.adapter.ShopAccountAdapter)."""
    return AccountEmail.objects.create(
        kind=kind,
        to=to,
        user=user,
        email_address=email_address,
        language=shop_language(language or translation.get_language()),
        queued_at=Now(),
        due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS),
    )


def shop_language(code):
    """`code` as one of LANGUAGES ("de-at" is "de"); LANGUAGE_CODE for none or one the shop does not speak."""
    return spoken_language(code)


def mark_due(email_id):
    """Let the next sweep publish this email again (publishing it failed). Never raises."""
    try:
        AccountEmail.objects.filter(id=email_id, state__in=[State.PENDING, State.SENDING]).update(due_at=Now())
    except Exception:  # the database is gone too: the email falls due one requeue period later
        logger.exception("account email %s: could not record that it is due", email_id)


class AccountEmailTask(ConfirmBoundedTask):
    """The account email's task; `delay(email_id)` publishes it and never raises (the sweep catches up)."""

    abstract = True

    def delay(self, email_id):
        try:
            return self.apply_async((email_id,))
        except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
            logger.warning("account email %s not published to the broker; the sweep will", email_id)
            mark_due(email_id)
            return None


def sweep(publish, *, limit=500):
    """Publish again, with `publish(email_id)` (True if the broker took it), every owed account email the
    broker may not hold, as orders.outbox.sweep does; return the ids published."""
    with transaction.atomic():
        due = list(
            AccountEmail.objects.filter(due_at__lte=Now())
            .filter(Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now()))
            .order_by("due_at")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        AccountEmail.objects.filter(id__in=due).update(
            queued_at=Now(), due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
        )
    swept = []
    for position, email_id in enumerate(due):
        if not publish(email_id):
            for later in due[position + 1 :]:  # the broker is gone again: the rest is due at once
                mark_due(later)
            break
        swept.append(email_id)
    return swept


# --- The worker's side: claims ------------------------------------------------------------------------


class AccountClaim(Claim):
    """The order outbox's claim (its outcomes, lease renewal and release), on an account email's row.
    `order_id` holds the account email's id; `kind` is only for the logs."""

    def _row(self):
        return AccountEmail.objects.filter(id=self.order_id)

    def mark_sent(self):
        """Record the email as sent; False if this claim was no longer held (a lapsed lease)."""
        return bool(self._mine().update(state=State.SENT, sent_at=Now(), claim_expires_at=None, last_error=""))


def claim(email_id, *, task_id=None):
    """Take the right to send account email `email_id`, counting the attempt: one conditional UPDATE, then,
    if refused, why (orders.outbox.why_not_claimed), looked at again if the row changed in between."""
    holder = holder_name(task_id)
    claimable = Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now())
    emails = AccountEmail.objects.filter(id=email_id)
    for _ in range(3):
        taken = emails.filter(claimable, attempts__lt=settings.ORDER_EMAIL_MAX_ATTEMPTS).update(
            state=State.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=Now(),
            claimed_by=holder,
            claim_expires_at=seconds_from_now(settings.ORDER_EMAIL_CLAIM_SECONDS),
        )
        if taken:
            return AccountClaim(Claimed.TAKEN, email_id, emails.values_list("kind", flat=True).first(), holder)
        refused = why_not_claimed(emails)
        if refused is not None:
            return AccountClaim(refused[0], email_id, "", wait_seconds=refused[1])
    return AccountClaim(Claimed.BUSY, email_id, "", wait_seconds=1.0)
