"""The operator outbox: the daily low-stock digest, owed once a day, published to the worker and sent at
most once. The order outbox's rules and public pieces (orders/outbox.py), as accounts/outbox.py reuses
them: a row written once per day (unique), its id published after the commit, a claim that is a lease
renewed while sending, a sweep for what the broker lost."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import ngettext

from core.publishing import ConfirmBoundedTask
from orders.outbox import Claim, Claimed, holder_name, seconds_from_now, why_not_claimed
from shop import stock

from .models import OperatorDigest

logger = logging.getLogger(__name__)
State = OperatorDigest.State


def operator_emails():
    """Who gets the operators' emails: SHOP_OPERATOR_EMAILS, else OPERATOR_EMAILS (the shop's other notices to
    operators), else the MANAGERS, else the ADMINS."""
    if settings.SHOP_OPERATOR_EMAILS or settings.OPERATOR_EMAILS:
        return list(settings.SHOP_OPERATOR_EMAILS or settings.OPERATOR_EMAILS)
    return [address for _, address in (settings.MANAGERS or settings.ADMINS)]


def owe_low_stock_digest(*, publish, day=None):
    """Owe today's low-stock digest, with what is low now; `publish(digest_id)` runs once committed. Return
    the digest, or None: nothing is low (no email), nobody to send it to, or it is owed already (a second
    beat, or the same beat firing twice)."""
    day = day or timezone.localdate()
    with translation.override(settings.SHOP_OPERATOR_LANGUAGE):  # the names the operators read
        lines = [
            {"product_id": product.id, "name": product.name, "stock": product.stock} for product in stock.low_stock()
        ]
    if not lines:
        logger.info("low-stock digest of %s: nothing is low, no email", day)
        return None
    to = operator_emails()
    if not to:
        logger.warning(
            "low-stock digest of %s: no SHOP_OPERATOR_EMAILS, OPERATOR_EMAILS, MANAGERS or ADMINS to send it to", day
        )
        return None
    try:
        with transaction.atomic():
            digest = OperatorDigest.objects.create(
                kind=OperatorDigest.Kind.LOW_STOCK,
                day=day,
                to=to,
                lines=lines,
                queued_at=Now(),
                due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS),
            )
            transaction.on_commit(lambda: publish(digest.id))
    except IntegrityError:  # owed already today: the sweep sees to that one
        logger.info("low-stock digest of %s: owed already", day)
        return None
    return digest


def message(digest):
    """The digest's email in the operators' language (SHOP_OPERATOR_LANGUAGE), whichever is active: plain
    text with an HTML alternative."""
    context = {
        "digest": digest,
        "lines": digest.lines,
        "threshold": settings.SHOP_LOW_STOCK_AT,
        "shop_name": settings.SHOP_NAME,
        "list_url": settings.SHOP_SITE_URL.rstrip("/") + "/admin/shop/product/?stock=low",
    }
    with translation.override(settings.SHOP_OPERATOR_LANGUAGE):
        count = len(digest.lines)
        subject = ngettext(
            "%(shop)s: %(count)s product low on stock (%(day)s)",
            "%(shop)s: %(count)s products low on stock (%(day)s)",
            count,
        ) % {"shop": settings.SHOP_NAME, "count": count, "day": formats.date_format(digest.day)}
        email = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("ops/emails/low_stock.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=digest.to,
        )
        email.attach_alternative(render_to_string("ops/emails/low_stock.html", context), "text/html")
    return email


def mark_due(digest_id):
    """Let the next sweep publish this digest again (publishing it failed). Never raises."""
    try:
        OperatorDigest.objects.filter(id=digest_id, state__in=[State.PENDING, State.SENDING]).update(due_at=Now())
    except Exception:  # the database is gone too: the digest falls due one requeue period later
        logger.exception("operator digest %s: could not record that it is due", digest_id)


class DigestTask(ConfirmBoundedTask):
    """The digest's task; `delay(digest_id)` publishes it and never raises (the sweep catches up)."""

    abstract = True

    def delay(self, digest_id):
        try:
            return self.apply_async((digest_id,))
        except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
            logger.warning("operator digest %s not published to the broker; the sweep will", digest_id)
            mark_due(digest_id)
            return None


def sweep(publish, *, limit=100):
    """Publish again, with `publish(digest_id)` (True if the broker took it), every owed digest the broker
    may not hold, as orders.outbox.sweep does; return the ids published."""
    with transaction.atomic():
        due = list(
            OperatorDigest.objects.filter(due_at__lte=Now())
            .filter(Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now()))
            .order_by("due_at")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        OperatorDigest.objects.filter(id__in=due).update(
            queued_at=Now(), due_at=seconds_from_now(settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
        )
    swept = []
    for position, digest_id in enumerate(due):
        if not publish(digest_id):
            for later in due[position + 1 :]:  # the broker is gone again: the rest is due at once
                mark_due(later)
            break
        swept.append(digest_id)
    return swept


class DigestClaim(Claim):
    """The order outbox's claim on a digest's row. `order_id` holds the digest's id; `kind` is for the logs."""

    def _row(self):
        return OperatorDigest.objects.filter(id=self.order_id)

    def mark_sent(self):
        """Record the digest as sent; False if this claim was no longer held (a lapsed lease)."""
        return bool(self._mine().update(state=State.SENT, sent_at=Now(), claim_expires_at=None, last_error=""))


def claim(digest_id, *, task_id=None):
    """Take the right to send digest `digest_id`, counting the attempt (as accounts.outbox.claim)."""
    holder = holder_name(task_id)
    claimable = Q(state=State.PENDING) | Q(state=State.SENDING, claim_expires_at__lte=Now())
    digests = OperatorDigest.objects.filter(id=digest_id)
    for _ in range(3):
        taken = digests.filter(claimable, attempts__lt=settings.ORDER_EMAIL_MAX_ATTEMPTS).update(
            state=State.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=Now(),
            claimed_by=holder,
            claim_expires_at=seconds_from_now(settings.ORDER_EMAIL_CLAIM_SECONDS),
        )
        if taken:
            return DigestClaim(Claimed.TAKEN, digest_id, "low-stock", holder)
        refused = why_not_claimed(digests)
        if refused is not None:
            return DigestClaim(refused[0], digest_id, "low-stock", wait_seconds=refused[1])
    return DigestClaim(Claimed.BUSY, digest_id, "low-stock", wait_seconds=1.0)
