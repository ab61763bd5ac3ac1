"""Mounted at the site's root: order pages live under /orders/<token>/ (whose tokens every log masks)."""

from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("orders/<uuid:token>/pay/", views.payment_start, name="payment_start"),
    path("orders/<uuid:token>/payment/", views.payment_return, name="payment_return"),
    path("orders/<uuid:token>/payment/state/", views.payment_state, name="payment_state"),
    path("orders/<uuid:token>/invoice/", views.invoice_download, name="invoice_download"),
    path("payments/offline/<str:checkout_id>/", views.offline_checkout, name="offline_checkout"),
    path("payments/webhooks/<slug:provider>/", views.webhook, name="webhook"),
]
