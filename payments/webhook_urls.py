"""Payment providers' webhooks, mounted without a language prefix: a provider neither follows redirects nor has a
language."""

from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("<slug:provider>/", views.webhook, name="payment"),  # /payments/webhooks/<provider>/
]
