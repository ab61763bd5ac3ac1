"""Mounted under the language prefix: order pages live under /<language>/orders/<token>/ (whose tokens every log
masks). The webhooks are in webhook_urls, without a prefix."""

from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("orders/<uuid:token>/pay/", views.payment_start, name="payment_start"),
    path("orders/<uuid:token>/payment/", views.payment_return, name="payment_return"),
    path("orders/<uuid:token>/payment/state/", views.payment_state, name="payment_state"),
    path("orders/<uuid:token>/invoice/", views.invoice_download, name="invoice_download"),
    path("payments/offline/<str:checkout_id>/", views.offline_checkout, name="offline_checkout"),
]
