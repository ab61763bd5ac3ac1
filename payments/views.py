"""Payment pages, the offline provider's page, webhooks and the customer's invoice download.

Order pages are reached by the order's unguessable token, under /orders/<token>/ (masked in every log). The
shopper's return from the provider shows where the payment stands and may ask the provider (a check), but
never marks anything paid by itself: only a verified webhook or the provider's own answer does.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orders.models import Order
from shop.money import format_money

from . import invoices, offline, services
from .gateway import InvalidSignature, MalformedEvent, ProviderError, from_minor_units
from .models import Invoice, OfflineCheckout, Payment
from .providers import PROVIDERS, accepts_webhooks, get_provider
from .tasks import deliver_offline_event

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 3  # a shopper's page asks the provider about a payment at most this often


@never_cache
@require_POST
def payment_start(request, token):
    """Send the shopper to the provider's page for this order (its open checkout, or a new one)."""
    order = get_object_or_404(Order, token=token)
    try:
        payment = services.start_payment(order_id=order.id)
    except services.PaymentRefused as refusal:
        messages.warning(request, str(refusal))
    except ProviderError:
        messages.error(
            request,
            _(
                "The payment service is not answering right now. Your order is kept for you: please try again in "
                "a minute."
            ),
        )
    else:
        return redirect(payment.redirect_url)
    return redirect("payments:payment_return", token=order.token)


@never_cache  # private, and it changes as the payment settles
@require_safe
def payment_return(request, token):
    """Where the provider sends the shopper back: where the payment stands ("being confirmed" until the
    provider's word arrives)."""
    order = get_object_or_404(Order, token=token)
    reference = _check_returning_payment(order, request.GET.get("ref"))
    context = {
        "order": order,
        "summary": services.summarise(order, reference=reference),
        "cancelled": "cancelled" in request.GET,
    }
    return render(request, "payments/payment/return.html", context)


@never_cache
@require_safe
def payment_state(request, token):
    """Where the payment stands, for the page's script, which reloads the page once it has settled."""
    order = get_object_or_404(Order, token=token)
    reference = _check_returning_payment(order, request.GET.get("ref"))
    return JsonResponse({"stage": services.summarise(order, reference=reference).stage})


def _check_returning_payment(order, reference):
    """`reference` if it names one of the order's payments; while that payment is open, ask its provider now
    and then (the shopper may be back before the webhook)."""
    if not reference:
        return None
    payment = Payment.objects.filter(order=order, reference=reference[:255]).first()
    if payment is None:
        return None
    try:
        due = cache.add(f"payments:checked:{payment.reference}", 1, CHECK_EVERY_SECONDS)
    except Exception:  # the cache is down: the webhook will tell; do not ask the provider on every poll
        due = False
    if payment.state == Payment.State.OPEN and due:
        services.check_with_provider(payment_id=payment.id)
        order.refresh_from_db()
    return payment.reference


@never_cache
@require_safe
def invoice_download(request, token):
    """The order's invoice PDF, for whoever holds the order's link (never a public media URL)."""
    order = get_object_or_404(Order, token=token)
    invoice = Invoice.objects.filter(order=order).first()
    pdf = invoices.open_pdf(invoice) if invoice else None
    if pdf is None:
        raise Http404(_("This order has no invoice yet."))
    response = FileResponse(pdf, as_attachment=True, filename=invoice.download_name, content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    return response


# --- The offline provider's page (what a real provider hosts on its own site) ---------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def offline_checkout(request, checkout_id):
    """The offline provider's payment page: the shopper approves or declines. The decision reaches the
    shop later, by the provider's signed webhook (or a check with the provider), never through this page."""
    if settings.PAYMENT_PROVIDER != offline.OfflineProvider.name:
        raise Http404("The offline provider is switched off.")
    checkout = get_object_or_404(OfflineCheckout, id=checkout_id)
    back = f"{checkout.return_url}?ref={checkout.id}"
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("approve", "decline"):
            return HttpResponseBadRequest(_("Choose approve or decline."))
        event = offline.decide(checkout.id, approve=decision == "approve")
        if event is not None:
            transaction.on_commit(lambda: _send_later(event))
        return redirect(back)
    amount = format_money(from_minor_units(checkout.amount_minor, checkout.currency), checkout.currency)
    return render(
        request,
        "payments/offline/checkout.html",
        {
            "checkout": checkout,
            "amount": amount,
            "back": back,
            "confirm_seconds": settings.PAYMENT_OFFLINE_CONFIRM_SECONDS,
        },
    )


def _send_later(event):
    """The provider confirms after a while, as real ones do; if the broker is down the shop still learns
    the outcome by asking the provider (the shopper's return page, the expiry)."""
    try:
        deliver_offline_event.apply_async((event,), countdown=settings.PAYMENT_OFFLINE_CONFIRM_SECONDS)
    except Exception:  # kombu's OperationalError, or whatever a broken broker raises
        logger.warning(
            "offline provider: event %s not queued (broker unreachable); the shop will ask instead", event["id"]
        )


# --- Webhooks -------------------------------------------------------------------------------------------


@csrf_exempt  # signed by the provider instead
@require_POST
def webhook(request, provider):
    """A provider's event: 400 and no change when its signature does not verify (or it cannot be read);
    otherwise acted on once (a resent event is a "duplicate") and answered 200."""
    if provider not in PROVIDERS or not accepts_webhooks(provider):
        raise Http404("No such webhook.")
    try:
        event = get_provider(provider).parse_webhook(body=request.body, headers=request.headers)
    except InvalidSignature as error:
        logger.warning("%s webhook refused: invalid signature (%s)", provider, error)
        return JsonResponse({"error": "invalid signature"}, status=400)
    except MalformedEvent as error:
        logger.warning("%s webhook refused: %s", provider, error)
        return JsonResponse({"error": "malformed event"}, status=400)
    return JsonResponse({"received": True, "outcome": services.apply_event(provider=provider, event=event)})
