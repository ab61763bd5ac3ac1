from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from core.ratelimit import limit_posts
from core.views import set_language

# Password guessing on the admin login meets the same per-client limit as the shop's forms.
admin.site.login = limit_posts("admin-login", "RATE_LIMIT_LOGIN")(admin.site.login)

# Without a language prefix: the admin (in the operator's browser language), the language switch, and what
# machines call (payment webhooks; /healthz, /readyz and /metrics are answered by ops' middleware).
urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),  # the switch in every page's header
    path("payments/webhooks/", include("payments.webhook_urls")),  # under its prefix: shop URLs skip it at once
]

# The shopper's pages, under /en/ and /de/; "/" and any unprefixed page redirect to the browser's language.
urlpatterns += i18n_patterns(
    path("accounts/", include("allauth.urls")),  # log in, sign up, verification, reset (django-allauth)
    path("accounts/", include("accounts.urls", namespace="accounts")),  # order history, addresses
    path("cart/coupon/", include("coupons.urls", namespace="coupons")),
    path("cart/", include("cart.urls", namespace="cart")),
    path("orders/", include("orders.urls", namespace="orders")),
    path("", include("payments.urls", namespace="payments")),  # /orders/<token>/pay/...
    path("", include("shop.urls", namespace="shop")),
)

# An outage outside a view (saving the session) gets the 503 page; any other error the 500 page.
handler500 = "core.views.server_error"

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
